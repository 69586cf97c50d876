"""The manager pages' forms. Model invariants (unique names, one policy per tier and
priority, positive budgets) are checked here, so a bad value is a 400 with the
field's message, never an IntegrityError."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.exceptions import DomainError
from integrations.models import Webhook, WebhookEventType
from integrations.services import webhook_url_check
from tickets.models import CannedResponse, Category, LifecyclePolicy
from tiers.models import (
    AgentProfile,
    BusinessCalendar,
    EscalationPolicy,
    Holiday,
    Priority,
    SLAPolicy,
    TierAssignment,
    TierLevel,
    VendorContact,
    WorkingHours,
)

DURATION_HELP = _("Hours:minutes:seconds, with days first if needed: 2:00:00, 1 08:00:00.")
TIME_ZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


def _positive(value: timedelta | None) -> timedelta | None:
    if value is not None and value <= timedelta(0):
        raise forms.ValidationError(_("Give a duration longer than zero."))
    return value


class PositiveDurationField(forms.DurationField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("help_text", DURATION_HELP)
        super().__init__(*args, **kwargs)

    def clean(self, value):
        return _positive(super().clean(value))


class AgentForm(forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = [
            "tier", "is_manager", "is_available", "away_until", "capacity", "skills", "is_active",
        ]  # fmt: skip
        widgets = {
            "away_until": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "skills": forms.CheckboxSelectMultiple,
        }
        labels = {
            "is_manager": _("Manager"),
            "is_available": _("Available"),
            "is_active": _("Active (unticked: deactivated, sees no queue)"),
        }

    def __init__(self, *args, actor=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean(self):
        data = super().clean()
        # A manager cannot lock themselves out of the pages they are using.
        if self.actor is not None and self.instance.user_id == self.actor.pk:
            if not data.get("is_manager") and not self.actor.is_superuser:
                self.add_error("is_manager", _("You cannot remove your own manager role."))
            if not data.get("is_active"):
                self.add_error("is_active", _("You cannot deactivate yourself."))
        return data


class LifecyclePolicyForm(forms.ModelForm):
    class Meta:
        model = LifecyclePolicy
        fields = ["pending_reminder_days", "pending_autoresolve_days", "autoclose_days"]

    def clean(self):
        data = super().clean()
        remind, resolve = data.get("pending_reminder_days"), data.get("pending_autoresolve_days")
        if remind and resolve and remind >= resolve:
            self.add_error(
                "pending_reminder_days",
                _("Remind before the ticket is resolved: fewer days than %(n)s.") % {"n": resolve},
            )
        return data


class TierAssignmentForm(forms.ModelForm):
    class Meta:
        model = TierAssignment
        fields = ["mode", "reassign_after_hours"]
        widgets = {"mode": forms.RadioSelect}


class AgentCreateForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"), max_length=150, regex=r"^[\w.@+-]+\Z", strip=True
    )
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    tier = forms.TypedChoiceField(
        label=_("Tier"), choices=TierLevel.choices[:3], coerce=int, initial=1
    )
    is_manager = forms.BooleanField(label=_("Manager"), required=False)


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = [
            "name",
            "slug",
            "description",
            "entry_tier",
            "default_priority",
            "sort_order",
            "is_active",
        ]


class BudgetGridForm(forms.Form):
    """Every tier × priority escalation budget on one page: ``t1_urgent``, …"""

    TIERS = (1, 2, 3)

    def __init__(self, *args, policies: list[EscalationPolicy], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.policies = {(p.tier, p.priority): p for p in policies}
        for tier in self.TIERS:
            for priority, label in Priority.choices:
                policy = self.policies.get((tier, priority))
                self.fields[f"t{tier}_{priority}"] = PositiveDurationField(
                    label=_("Tier %(tier)s, %(priority)s") % {"tier": tier, "priority": label},
                    initial=policy.budget if policy else None,
                    required=False,
                    help_text="",
                )

    def rows(self) -> list[tuple[int, list[forms.BoundField]]]:
        return [
            (tier, [self[f"t{tier}_{priority}"] for priority in Priority.values])
            for tier in self.TIERS
        ]

    def changed_budgets(self) -> list[tuple[int, str, timedelta]]:
        changed = []
        for tier in self.TIERS:
            for priority in Priority.values:
                value = self.cleaned_data.get(f"t{tier}_{priority}")
                policy = self.policies.get((tier, priority))
                if value is not None and (policy is None or policy.budget != value):
                    changed.append((tier, priority, value))
        return changed


class EscalationPolicyForm(forms.ModelForm):
    budget = PositiveDurationField(label=_("Budget"))

    class Meta:
        model = EscalationPolicy
        fields = ["budget", "warn_at_percent", "calendar"]

    def clean_warn_at_percent(self) -> int:
        value = self.cleaned_data["warn_at_percent"]
        if not 1 <= value <= 99:
            raise forms.ValidationError(_("Warn between 1 and 99 percent of the budget."))
        return value


class CalendarForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES, initial="UTC")

    class Meta:
        model = BusinessCalendar
        fields = ["name", "time_zone", "is_24x7", "is_default"]
        labels = {"is_24x7": _("Open 24×7 (ignores working hours)"), "is_default": _("Default")}

    def _get_validation_exclusions(self) -> set[str]:
        # "One default calendar" is kept by moving the mark on save (desk.services),
        # so ticking Default on a second calendar is not a constraint violation here.
        return {*super()._get_validation_exclusions(), "is_default"}


class HolidayForm(forms.ModelForm):
    prefix = "holiday"  # the calendar's page also has the calendar's own "name"

    class Meta:
        model = Holiday
        fields = ["date", "name"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, calendar: BusinessCalendar, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.calendar = calendar

    def clean_date(self):
        value = self.cleaned_data["date"]
        if Holiday.objects.filter(calendar=self.instance.calendar, date=value).exists():
            raise forms.ValidationError(_("This calendar has a holiday on that day already."))
        return value


class WorkingHoursForm(forms.ModelForm):
    prefix = "hours"

    class Meta:
        model = WorkingHours
        fields = ["weekday", "start", "end"]
        widgets = {
            "start": forms.TimeInput(attrs={"type": "time"}),
            "end": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args, calendar: BusinessCalendar, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.calendar = calendar

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", _("The end must be after the start."))
        return data


class SLAPolicyForm(forms.ModelForm):
    first_response = PositiveDurationField(label=_("First response within"))
    resolution = PositiveDurationField(label=_("Resolution within"))

    class Meta:
        model = SLAPolicy
        fields = ["priority", "first_response", "resolution", "warn_at_percent", "calendar"]

    def clean_warn_at_percent(self) -> int:
        value = self.cleaned_data["warn_at_percent"]
        if not 1 <= value <= 99:
            raise forms.ValidationError(_("Warn between 1 and 99 percent of the target."))
        return value

    def clean(self):
        data = super().clean()
        first, resolution = data.get("first_response"), data.get("resolution")
        if first and resolution and resolution < first:
            self.add_error("resolution", _("Resolution cannot come before the first response."))
        return data


class VendorForm(forms.ModelForm):
    # Declared fields do not take the model's defaults: they are given again here.
    response_target = PositiveDurationField(
        label=_("Response target"), initial=VendorContact._meta.get_field("response_target").default
    )
    resolution_target = PositiveDurationField(
        label=_("Resolution target"),
        initial=VendorContact._meta.get_field("resolution_target").default,
    )

    class Meta:
        model = VendorContact
        fields = [
            "name",
            "company",
            "email",
            "phone",
            "categories",
            "contract_reference",
            "response_target",
            "resolution_target",
            "is_active",
        ]
        widgets = {"categories": forms.CheckboxSelectMultiple}
        labels = {"name": _("Contact name"), "email": _("E-mail")}


class CannedResponseForm(forms.ModelForm):
    class Meta:
        model = CannedResponse
        fields = ["title", "body", "tier", "is_active"]
        help_texts = {
            "body": _(
                "Placeholders: {{ requester_name }}, {{ reference }}, {{ agent_name }}, "
                "{{ tracking_url }}."
            )
        }


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "events", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(_("Use an http:// or https:// URL."))
        try:
            webhook_url_check(url=url)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return url


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[("", _("The help desk's zone")), *TIME_ZONE_CHOICES],
        required=False,
        help_text=_("Dates and times on every page are shown in this zone."),
    )


class AvailabilityForm(forms.Form):
    """An agent's own "away / out of office until …" switch."""

    away = forms.TypedChoiceField(
        label=_("Availability"),
        choices=[("0", _("Available: auto-assignment may give me tickets")),
                 ("1", _("Away / out of office"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )  # fmt: skip
    until = forms.DateTimeField(
        label=_("Back on"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text=_("Optional: from then on you count as available again."),
    )

    def clean(self):
        data = super().clean()
        until = data.get("until")
        if data.get("away") and until is not None and until <= timezone.now():
            self.add_error("until", _("The return date must be in the future."))
        return data
