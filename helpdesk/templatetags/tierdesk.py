from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString

from helpdesk.markdown import render_markdown

register = template.Library()


@register.simple_tag
def live_stream_url() -> str:
    """Where an agent's page opens its live stream; empty without Redis (it polls)."""
    return settings.LIVE_STREAM_URL if settings.LIVE_REDIS_URL else ""


@register.filter(name="markdown")
def markdown_filter(value: str) -> SafeString:
    """Render user Markdown, sanitized by nh3."""
    return render_markdown(value or "")


@register.filter
def duration(value: timedelta | None) -> str:
    """A short human duration: 2h 05m, 3d 4h, 45s."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
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
