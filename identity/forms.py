from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _

from helpdesk.auth import ThrottledAuthenticationForm

from .backends import SSO_ONLY_REFUSED
from .ldap import LDAP_DOWN, LDAP_REFUSED


class IdentityAuthenticationForm(ThrottledAuthenticationForm):
    """The project's login form, saying *why* when a password login was refused for a
    reason other than a wrong password: the directory is down, the directory refused
    the account, or staff must use single sign-on."""

    def get_invalid_login_error(self) -> forms.ValidationError:
        request = self.request
        if request is not None and getattr(request, SSO_ONLY_REFUSED, False):
            return forms.ValidationError(
                _(
                    "Staff accounts sign in with single sign-on here, not with a local "
                    "password. Use the button below."
                ),
                code="sso_only",
            )
        refused = getattr(request, LDAP_REFUSED, "") if request is not None else ""
        if refused:
            return forms.ValidationError(refused, code="directory_refused")
        if request is not None and getattr(request, LDAP_DOWN, False):
            return forms.ValidationError(
                _(
                    "The company directory cannot be reached just now, so directory "
                    "passwords cannot be checked. Try again in a few minutes."
                ),
                code="directory_down",
            )
        return super().get_invalid_login_error()
