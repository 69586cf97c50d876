"""The one permission class that holds API tokens to their scopes (on every endpoint:
``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]``, and next to ``AllowAny`` on the
public ones)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission

from .scopes import required_scope


class TokenHasScope(BasePermission):
    """A request made with an API token needs the endpoint's scope (403 naming the
    missing scope); sessions and anonymous requests pass (other classes judge them)."""

    message = _("This token may not do this.")

    def has_permission(self, request, view) -> bool:
        from .models import ApiToken  # DRF imports permissions before the app registry

        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = required_scope(view, request.method)
        if needed is None:
            self.message = _("API tokens cannot be used for this endpoint.")
            return False
        if needed in (token.scopes or ()):
            return True
        self.message = _(
            "This token lacks the “%(scope)s” scope. Create a token with it at /accounts/tokens/."
        ) % {"scope": needed}
        return False
