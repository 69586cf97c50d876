"""The audit log's filters (django-filter): who, what kind of object, which action,
which days, and a search in the object's name."""

from __future__ import annotations

import django_filters
from django import forms
from django.apps import apps
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry
from .selectors import audit_object_types


class AuditEntryFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_name", lookup_expr="iexact", label=_("Changed by (username)")
    )
    object_type = django_filters.ChoiceFilter(label=_("What"), choices=())
    action = django_filters.ChoiceFilter(label=_("Action"), choices=AuditEntry.Action.choices)
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label=_("To"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    q = django_filters.CharFilter(
        field_name="object_repr", lookup_expr="icontains", label=_("Name contains")
    )

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["object_type"].extra["choices"] = [
            (label, _model_name(label)) for label in audit_object_types()
        ]


def _model_name(label: str) -> str:
    """``tiers.escalationpolicy`` → "Escalation policy" (the label itself for a model
    that no longer exists: the log outlives it)."""
    try:
        return capfirst(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label
