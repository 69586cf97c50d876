from __future__ import annotations

from datetime import timedelta

from django import template

from helpdesk.templatetags.tierdesk import duration

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """Seconds as a short human duration (2h 05m, 3d 4h); an em dash when unknown."""
    if value is None or value == "":  # "" is a missing key in a template
        return "—"
    return duration(timedelta(seconds=float(value)))


@register.filter
def percent(value: float | None) -> str:
    """A 0–1 ratio as a percentage with one decimal; an em dash when undefined."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.filter
def get(mapping: dict, key: object) -> object:
    """``mapping[key]`` in a template (keys such as "1" or "urgent")."""
    if not isinstance(mapping, dict):
        return None
    return mapping.get(key if key in mapping else str(key))
