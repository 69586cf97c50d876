"""System checks: a mistyped provider or role table is reported by ``manage.py check``
at start-up, not as a failed login later."""

from __future__ import annotations

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def identity_settings_check(app_configs, **kwargs) -> list[Error]:
    from .config import ldap_group_map, oidc_providers

    errors = []
    try:
        providers = oidc_providers()
    except (ImproperlyConfigured, TypeError, ValueError) as exc:
        errors.append(Error(f"TIERDESK_OIDC_PROVIDERS: {exc}", id="identity.E001"))
    else:
        slugs = [p.slug for p in providers]
        if len(set(slugs)) != len(slugs):
            errors.append(Error("TIERDESK_OIDC_PROVIDERS: slugs must differ.", id="identity.E002"))
    try:
        ldap_group_map()
    except (ImproperlyConfigured, TypeError, ValueError) as exc:
        errors.append(Error(f"TIERDESK_LDAP: {exc}", id="identity.E003"))
    return errors
