from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Category


class TicketSubmitForm(forms.Form):
    URGENCY = [
        ("low", _("It can wait")),
        ("medium", _("It slows me down")),
        ("high", _("I cannot work")),
    ]
    IMPACT = [("low", _("Just me")), ("medium", _("My team")), ("high", _("The whole company"))]

    name = forms.CharField(label=_("Your name"), max_length=120)
    email = forms.EmailField(label=_("Your e-mail"), max_length=254)
    category = forms.ModelChoiceField(
        label=_("What is it about?"),
        queryset=Category.objects.filter(is_active=True),
        empty_label=_("Choose a category"),
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Describe the problem"),
        max_length=20000,
        widget=forms.Textarea,
        help_text=_("What happened, what you expected, any error message. Markdown works."),
    )
    urgency = forms.ChoiceField(
        label=_("How urgent is it?"), choices=URGENCY, initial="medium", widget=forms.RadioSelect
    )
    impact = forms.ChoiceField(
        label=_("Who is affected?"), choices=IMPACT, initial="low", widget=forms.RadioSelect
    )
    # Honeypot: invisible to people, filled by naive bots.
    website = forms.CharField(label=_("Leave this empty"), required=False)
    submission_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def clean_subject(self) -> str:
        value = self.cleaned_data["subject"].replace("\x00", "").strip()
        if not value:
            raise forms.ValidationError(_("Give your ticket a short subject."))
        return value

    def clean_description(self) -> str:
        value = self.cleaned_data["description"].replace("\x00", "").strip()
        if len(value) < 10:
            raise forms.ValidationError(
                _("Please describe the problem in a few words (10 characters at least).")
            )
        return value


class CustomerReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), max_length=20000, widget=forms.Textarea)

    def clean_body(self) -> str:
        value = self.cleaned_data["body"].replace("\x00", "").strip()
        if not value:
            raise forms.ValidationError(_("Write a message first."))
        return value
