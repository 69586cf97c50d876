"""System checks: a mistyped allow-list entry is reported at start-up (``manage.py
check``), not as a failed delivery later."""

from __future__ import annotations

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def webhook_allowed_networks_check(app_configs, **kwargs) -> list[Error]:
    from .egress import allowed_networks

    try:
        allowed_networks()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="integrations.E001")]
    return []
