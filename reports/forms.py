"""The dashboard's range and filter form (shared by the page, the CSV exports and the API)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _

from tiers.models import Priority, TierLevel

from .selectors import DashboardFilters, category_choices

#: Longest custom range (a quarter): percentiles sort every duration of the range,
#: so the range bounds the cost of a request (timings in reports/README.md).
MAX_RANGE_DAYS = 92
#: The rollups cover history; older custom ranges are refused with a message.
MAX_HISTORY_DAYS = 5 * 366


class DashboardForm(forms.Form):
    RANGE_CHOICES = [
        ("7", _("Last 7 days")),
        ("30", _("Last 30 days")),
        ("90", _("Last 90 days")),
        ("custom", _("Custom range")),
    ]

    range = forms.ChoiceField(label=_("Period"), choices=RANGE_CHOICES, required=False)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    # Choices from a cached list (reports.selectors.category_choices), not a queryset:
    # one query less and no per-option work on every dashboard request.
    category = forms.TypedChoiceField(
        label=_("Category"),
        choices=lambda: [("", _("All categories")), *category_choices()],
        coerce=int,
        empty_value=None,
        required=False,
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=[("", _("All priorities")), *Priority.choices],
        required=False,
    )
    tier = forms.TypedChoiceField(
        label=_("Tier"),
        choices=[("", _("All tiers")), *TierLevel.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict:
        data = super().clean()
        period = data.get("range") or ("custom" if data.get("start") or data.get("end") else "30")
        data["range"] = period
        if period != "custom":
            data["start"] = self.today - timedelta(days=int(period) - 1)
            data["end"] = self.today
            return data
        start, end = data.get("start"), data.get("end")
        if "start" in self.errors or "end" in self.errors:
            return data
        if start is None or end is None:
            raise forms.ValidationError(_("A custom range needs both a From and a To date."))
        if start > end:
            raise forms.ValidationError(_("The From date must be on or before the To date."))
        if end > self.today:
            raise forms.ValidationError(_("The To date cannot be in the future."))
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(
                _("Choose a range of at most %(days)s days.") % {"days": MAX_RANGE_DAYS}
            )
        if (self.today - start).days > MAX_HISTORY_DAYS:
            raise forms.ValidationError(_("The From date is too far in the past."))
        return data

    def canonical_query(self) -> str:
        """The cleaned range and filters as a query string, in a fixed order and without
        anything else the request carried: the links of the (shared, cached) figures
        are built from it, never from the raw request."""
        data = self.cleaned_data
        params: dict[str, str] = {"range": data["range"]}
        if data["range"] == "custom":
            params.update(start=data["start"].isoformat(), end=data["end"].isoformat())
        if data.get("category"):
            params["category"] = str(data["category"])
        for name in ("priority", "tier"):
            if data.get(name):
                params[name] = str(data[name])
        return urlencode(params)

    def filters(self) -> DashboardFilters:
        data = self.cleaned_data
        return DashboardFilters(
            start=data["start"],
            end=data["end"],
            category_id=data.get("category"),
            priority=data.get("priority") or None,
            tier=data.get("tier"),
        )
