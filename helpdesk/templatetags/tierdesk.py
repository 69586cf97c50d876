from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

from helpdesk.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(value: str) -> SafeString:
    """Render user Markdown, sanitized by nh3."""
    return render_markdown(value or "")


@register.filter
def duration(value: timedelta | int | None) -> str:
    """A short human duration: 2h 05m, 3d 4h, 45s (from a timedelta or seconds, as
    event data stores them)."""
    if value is None or value == "":
        return "—"
    seconds = int(value.total_seconds()) if isinstance(value, timedelta) else int(value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m"
    return f"{sign}{secs}s"


@register.filter
def time_until(value: datetime | None) -> str:
    if value is None:
        return "—"
    return duration(value - timezone.now())


@register.filter
def iso_datetime(value: str | None) -> datetime | None:
    """A datetime from the ISO string event data stores, for the ``date`` filter."""
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
