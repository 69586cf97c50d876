"""Portal and account forms. They check input and show messages next to each field;
the writing is done by ``tickets.services.portal``."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from .models import Category
from .services.attachments import AttachmentError, validate_uploads


def clean_text(value: str) -> str:
    """Strip NUL bytes (PostgreSQL cannot store them) and surrounding space; text made
    only of invisible characters (zero-width spaces, joiners, bidi marks) counts as
    empty, so it cannot pass as a subject or a reply that shows as a blank line."""
    value = (value or "").replace("\x00", "").strip()
    visible = "".join(
        ch
        for ch in value
        if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs")
    )
    return value if visible else ""


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """``<input type=file multiple>``: cleans to a list of uploads (maybe empty)."""

    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        cleaned = [super(MultipleFileField, self).clean(f, initial) for f in files if f]
        try:
            validate_uploads(cleaned)
        except AttachmentError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


def attachments_field() -> MultipleFileField:
    return MultipleFileField(
        label=_("Attachments"),
        help_text=_(
            "Screenshots, PDFs, logs or office files; up to 5 files of 10 MB each. "
            "If the form is shown again, choose the files again."
        ),
    )


class CategoryChoiceField(forms.ChoiceField):
    """The active categories, from the process-local memo (``categories_active``): the
    submit form is rendered and checked without a query. Cleans to a ``Category``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=self._choices, **kwargs)

    @staticmethod
    def _choices() -> list[tuple[str, str]]:
        from .selectors import categories_active

        return [("", _("Choose a category")), *((str(c[0]), c[1]) for c in categories_active())]

    def prepare_value(self, value: Any) -> Any:
        return value.pk if isinstance(value, Category) else value

    def validate(self, value: Any) -> None:
        # Only "required" here: ``clean`` looks the value up in the memo, which is the
        # membership test. ChoiceField's own would build and normalize the whole list
        # of lazily translated choices again for every form checked.
        forms.Field.validate(self, value)

    def clean(self, value: Any) -> Category:
        from .selectors import category_active

        value = super().clean(value)
        # The listed values are plain ids: " 5", "+5" or "٥" are not among them.
        listed = isinstance(value, str) and value.isascii() and value.isdigit()
        # None: not a listed category, or deactivated since the form was shown.
        category = category_active(int(value)) if listed else None
        if category is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return category


class TicketSubmitForm(forms.Form):
    URGENCY = [
        ("low", _("It can wait")),
        ("medium", _("It slows me down")),
        ("high", _("I cannot work")),
    ]
    IMPACT = [("low", _("Just me")), ("medium", _("My team")), ("high", _("The whole company"))]

    name = forms.CharField(
        label=_("Your name"),
        max_length=120,
        error_messages={"required": _("Tell us your name.")},
    )
    email = forms.EmailField(
        label=_("Your e-mail"),
        max_length=254,
        help_text=_("We send your reference and private tracking link here."),
        error_messages={"required": _("Tell us where to write to you.")},
    )
    category = CategoryChoiceField(
        label=_("What is it about?"),
        error_messages={
            "required": _("Choose what your request is about."),
            "invalid_choice": _("Choose one of the listed categories."),
        },
    )
    subject = forms.CharField(
        label=_("Subject"),
        max_length=200,
        error_messages={"required": _("Give your ticket a short subject.")},
    )
    description = forms.CharField(
        label=_("Describe the problem"),
        max_length=20000,
        widget=forms.Textarea,
        help_text=_("What happened, what you expected, any error message. Markdown works."),
        error_messages={
            "required": _("Please describe the problem in a few words (10 characters at least).")
        },
    )
    urgency = forms.ChoiceField(
        label=_("How urgent is it?"),
        choices=URGENCY,
        initial="medium",
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose how urgent it is."),
            "invalid_choice": _("Choose one of the three answers."),
        },
    )
    impact = forms.ChoiceField(
        label=_("Who is affected?"),
        choices=IMPACT,
        initial="low",
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose who is affected."),
            "invalid_choice": _("Choose one of the three answers."),
        },
    )
    attachments = attachments_field()
    # Honeypot: invisible to people, filled by naive bots.
    website = forms.CharField(label=_("Leave this empty"), required=False)
    submission_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None and user.is_authenticated and user.email:
            # A logged-in customer's tickets go to their account's address.
            self.fields["email"].disabled = True
            self.fields["email"].initial = user.email
            self.fields["email"].help_text = _("Your account's address. We write to you here.")
        # Suggestions while typing (htmx, debounced). Without JavaScript nothing
        # happens and the form still submits.
        suggest = {
            "hx-get": reverse_lazy("tickets:ticket-suggest"),
            "hx-trigger": "keyup changed delay:400ms, change",
            "hx-target": "#suggestions",
            "hx-include": "[name=subject], [name=description], [name=submission_key]",
            "hx-sync": "closest form:replace",
        }
        self.fields["subject"].widget.attrs.update(suggest, autocomplete="off")
        self.fields["description"].widget.attrs.update(suggest, rows=8)
        self.fields["name"].widget.attrs.update(autocomplete="name")
        self.fields["email"].widget.attrs.update(autocomplete="email")
        self.fields["website"].widget.attrs.update(tabindex="-1", autocomplete="off")

    def clean_name(self) -> str:
        value = clean_text(self.cleaned_data["name"])
        if not value:
            raise forms.ValidationError(_("Tell us your name."))
        return value

    def clean_subject(self) -> str:
        value = clean_text(self.cleaned_data["subject"])
        if not value:
            raise forms.ValidationError(_("Give your ticket a short subject."))
        return value

    def clean_description(self) -> str:
        value = clean_text(self.cleaned_data["description"])
        if len(value) < 10:
            raise forms.ValidationError(
                _("Please describe the problem in a few words (10 characters at least).")
            )
        return value

    def clean_submission_key(self) -> str:
        value = self.cleaned_data.get("submission_key") or ""
        # Only what our own page generates (token_urlsafe); anything else is ignored.
        if value and not all(c.isalnum() or c in "-_" for c in value):
            return ""
        return value


class CustomerReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": _("Write a message first.")},
    )
    attachments = attachments_field()

    def clean_body(self) -> str:
        value = clean_text(self.cleaned_data["body"])
        if not value:
            raise forms.ValidationError(_("Write a message first."))
        return value


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("What is still wrong?"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SatisfactionForm(forms.Form):
    RATINGS = [
        (5, _("5 · Excellent")),
        (4, _("4 · Good")),
        (3, _("3 · Okay")),
        (2, _("2 · Poor")),
        (1, _("1 · Very poor")),
    ]
    rating = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=RATINGS,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a rating from 1 to 5."),
            "invalid_choice": _("Choose a rating from 1 to 5."),
        },
    )
    comment = forms.CharField(
        label=_("Anything you want to tell us?"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_comment(self) -> str:
        return clean_text(self.cleaned_data.get("comment", ""))


class EscalationRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Why does this need more attention?"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    urgent = forms.BooleanField(label=_("It has become urgent"), required=False)

    def clean_reason(self) -> str:
        value = clean_text(self.cleaned_data["reason"])
        if not value:
            raise forms.ValidationError(_("Tell us why this needs more attention."))
        return value


class SignupForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(
        label=_("Your e-mail"),
        max_length=150,
        help_text=_("We send a link to confirm it. You log in with it."),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters; not only digits, not a common password."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    website = forms.CharField(label=_("Leave this empty"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autocomplete="name")
        self.fields["email"].widget.attrs.update(autocomplete="email")
        self.fields["website"].widget.attrs.update(tabindex="-1", autocomplete="off")

    def clean_name(self) -> str:
        value = clean_text(self.cleaned_data["name"])
        if not value:
            raise forms.ValidationError(_("Tell us your name."))
        return value

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            from django.contrib.auth import get_user_model

            probe = get_user_model()(
                username=data.get("email", ""),
                email=data.get("email", ""),
                first_name=data.get("name", ""),
            )
            try:
                password_validation.validate_password(p1, probe)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data
