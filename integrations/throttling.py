"""API throttles in the Django cache (Redis in production, shared by all web nodes).

Rates are read at request time from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
(scopes ``anon``, ``user``, ``token``), so settings changes apply without a restart of
the class attributes. DRF answers 429 with ``Retry-After``.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _ConfiguredRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_ConfiguredRateThrottle):
    """Anonymous callers (public KB), per client address."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(_ConfiguredRateThrottle):
    """Per user, whatever the credential (session or any of their tokens)."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenThrottle(_ConfiguredRateThrottle):
    """Per API token, so one runaway integration cannot use up its owner's whole budget."""

    scope = "token"

    def get_cache_key(self, request, view):
        from .models import ApiToken  # DRF imports throttles before the app registry is ready

        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
