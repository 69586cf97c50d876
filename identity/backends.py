"""Authentication backends: local passwords (with the staff SSO-only switch) and the
session backend of single sign-on.

Every backend here serves sessions through ``helpdesk.auth``'s ``get_user``: one user
memo, and ``is_active`` checked on the fresh row, so an account switched off by
``identity.services.identity_deprovision`` is logged out at its next request whatever
way it logged in.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from helpdesk.auth import UsernameOrEmailBackend
from tiers.selectors import agent_profile_of

from .config import staff_sso_only

#: Set on the request when a correct local password of a staff account was refused.
SSO_ONLY_REFUSED = "_identity_sso_only_refused"


def is_staff_account(user: Any) -> bool:
    return bool(user.is_staff or agent_profile_of(user) is not None)


class PasswordBackend(UsernameOrEmailBackend):
    """Local username-or-e-mail passwords. With ``TIERDESK_STAFF_SSO_ONLY`` agents and
    managers must use single sign-on (or the directory); the superuser keeps its
    password so that someone can still get in when the identity provider is down."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None or user.is_superuser or not staff_sso_only():
            return user
        if is_staff_account(user):
            # Checked after the password, so the answer does not tell a guesser which
            # names are staff.
            if request is not None:
                setattr(request, SSO_ONLY_REFUSED, True)
            return None
        return user


class SingleSignOnBackend(UsernameOrEmailBackend):
    """The session backend of accounts logged in by an OpenID provider
    (``identity.views.oidc_callback``); it authenticates nothing itself."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any):
        return None
