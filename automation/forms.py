"""The manager's rule form and the macro form: every field validated with a message
that says what to fix."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from helpdesk.exceptions import DomainError
from integrations.models import Webhook
from tickets.models import CannedResponse, Category, TicketEvent
from tiers.models import AgentProfile, Priority, TierLevel

from .engine import UNLISTENABLE
from .models import TAG_RE, Macro, Trigger
from .services import tag_names_clean

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EVENT_CHOICES = [(k, label) for k, label in TicketEvent.Kind.choices if k not in UNLISTENABLE]


def _agents() -> Any:
    ids = AgentProfile.objects.filter(is_active=True).values("user_id")
    return get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("username")


class _AgentChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_username()


class _AgentsChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_username()


class TriggerForm(forms.ModelForm):
    event_kinds = forms.MultipleChoiceField(
        label=_("When one of these is written"),
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    priorities = forms.MultipleChoiceField(
        label=_("Priority is one of"),
        choices=Priority.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    tiers = forms.TypedMultipleChoiceField(
        label=_("Tier is one of"),
        choices=TierLevel.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    categories = forms.ModelMultipleChoiceField(
        label=_("Category is one of"),
        queryset=Category.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    assign_to = _AgentChoice(label=_("Assign to"), queryset=None, required=False)
    notify_users = _AgentsChoice(
        label=_("Notify (bell and e-mail)"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Trigger
        fields = [
            "name", "is_active", "position", "event_kinds",
            "categories", "priorities", "tiers", "requester_domain", "text_contains",
            "min_minutes_in_status",
            "set_priority", "set_category", "assign_to", "add_tag", "canned_reply",
            "notify_users", "webhook",
        ]  # fmt: skip
        labels = {
            "is_active": _("Active"),
            "requester_domain": _("Requester's e-mail domain"),
            "text_contains": _("Subject or description contains"),
            "min_minutes_in_status": _("Minutes in the current status, at least"),
            "set_priority": _("Set the priority to"),
            "set_category": _("Set the category to"),
            "add_tag": _("Add the tag"),
            "canned_reply": _("Send the canned reply"),
            "webhook": _("Call the webhook"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assign_to"].queryset = _agents()
        self.fields["notify_users"].queryset = _agents()
        self.fields["canned_reply"].queryset = CannedResponse.objects.filter(is_active=True)
        self.fields["webhook"].queryset = Webhook.objects.filter(is_active=True)
        self.fields["set_category"].queryset = Category.objects.filter(is_active=True)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Trigger.objects.filter(name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("There is already a rule with this name."))
        return name

    def clean_requester_domain(self) -> str:
        domain = self.cleaned_data["requester_domain"].strip().lower().lstrip("@")
        if domain and not DOMAIN_RE.match(domain):
            raise forms.ValidationError(_("Enter a domain such as example.com."))
        return domain

    def clean_add_tag(self) -> str:
        tag = self.cleaned_data["add_tag"].strip().lower().lstrip("#")
        if tag and not TAG_RE.match(tag):
            raise forms.ValidationError(_("Use up to 40 lower-case letters, digits, “-” or “_”."))
        return tag

    def clean_min_minutes_in_status(self) -> int | None:
        value = self.cleaned_data["min_minutes_in_status"]
        if value is not None and value > 525_600:
            raise forms.ValidationError(_("At most a year (525,600 minutes)."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        actions = ("set_priority", "set_category", "assign_to", "add_tag", "canned_reply",
                   "notify_users", "webhook")  # fmt: skip
        if not any(data.get(a) for a in actions):
            raise forms.ValidationError(_("Choose at least one action for the rule to take."))
        return data


class MacroForm(forms.ModelForm):
    tags = forms.CharField(
        label=_("Tags to add"),
        required=False,
        max_length=300,
        help_text=_("Separated by commas or spaces, e.g. password, vpn."),
    )
    owner = _AgentChoice(
        label=_("Owner"),
        queryset=None,
        required=False,
        empty_label=_("Shared with every agent"),
    )

    class Meta:
        model = Macro
        fields = ["name", "owner", "reply", "status", "priority", "tags", "is_active"]
        labels = {
            "reply": _("Reply to the customer"),
            "status": _("Then set the status to"),
            "priority": _("Set the priority to"),
            "is_active": _("Active"),
        }
        widgets = {"reply": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args: Any, manager: bool, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.manager = manager
        if manager:
            self.fields["owner"].queryset = _agents()
        else:
            del self.fields["owner"]  # an agent's macros are its own
        if self.instance.pk and not self.is_bound:
            self.initial["tags"] = ", ".join(self.instance.tags or ())

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_tags(self) -> list[str]:
        try:
            return tag_names_clean(self.cleaned_data.get("tags") or "")
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (
            (data.get("reply") or "").strip()
            or data.get("status")
            or data.get("priority")
            or data.get("tags")
        ):
            raise forms.ValidationError(
                _("A macro needs something to do: a reply, a status, a priority or tags.")
            )
        return data

    def save(self, commit: bool = True) -> Macro:
        macro = super().save(commit=False)
        macro.tags = self.cleaned_data["tags"]
        if not self.manager:
            macro.owner = self.user
        return macro
