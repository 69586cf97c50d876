"""Authentication: username-or-e-mail login, and login throttling.

Throttling counts *failed* log-ins in the cache (``helpdesk.ratelimit``), twice:
per account name (``LOGIN_FAILURE_LIMIT`` in ``LOGIN_FAILURE_WINDOW_SECONDS``) so
one person's password cannot be guessed slowly from many addresses, and per client
IP (``LOGIN_FAILURE_IP_LIMIT``) so one address cannot spray many accounts. A locked
attempt is refused *before* the password is checked, with the same message whether
or not the account exists, so neither the message nor the time taken tells an
attacker which names are real.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import router
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from helpdesk import ratelimit
from helpdesk.cache import DIRECTORY, VersionedMemo

#: Signed-in users, kept per process under the directory counter that every user save
#: bumps (``helpdesk.cache``; a login's ``last_login`` alone does not): a signed-in
#: page reads the user once per change instead of once per request. Plain rows, not
#: instances; bounded so that a desk with many customers keeps only its regulars.
_users = VersionedMemo(DIRECTORY, max_entries=2000)


class UsernameOrEmailBackend(ModelBackend):
    """Log in with a username or an e-mail address (case-insensitive e-mail)."""

    def get_user(self, user_id: Any) -> Any:
        User = get_user_model()
        fields = [f.attname for f in User._meta.concrete_fields]
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        row = _users.get(
            ("user", pk),
            lambda: User._default_manager.filter(pk=pk).values_list(*fields).first(),
        )
        if row is None:
            return None
        user = User.from_db(router.db_for_read(User), fields, row)
        # Session verification (the password hash) and is_active read this fresh row.
        return user if self.user_can_authenticate(user) else None

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ):
        if username is None or password is None:
            return None
        User = get_user_model()
        user = None
        if "@" in username:
            user = User.objects.filter(email__iexact=username).order_by("id").first()
        if user is None:
            user = User.objects.filter(username=username).first()
        if user is None:
            # Same cost as a real check, so timing does not reveal which accounts exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def _account_key(username: str) -> str:
    # Hashed: the cache never holds the names people typed, and any length fits a key.
    normalized = username.strip().lower().encode("utf-8", "surrogatepass")
    return "login-fail:acct:" + hashlib.sha256(normalized).hexdigest()


def _ip_key(request: HttpRequest) -> str:
    return "login-fail:ip:" + ratelimit.client_ip(request)


def _window() -> int:
    return settings.LOGIN_FAILURE_WINDOW_SECONDS


def login_locked_for(request: HttpRequest, username: str) -> int:
    """Seconds until this account name / this client may try again; 0 when allowed."""
    window = _window()
    account = ratelimit.peek(_account_key(username), window=window) if username else 0
    by_ip = ratelimit.peek(_ip_key(request), window=window)
    if account < settings.LOGIN_FAILURE_LIMIT and by_ip < settings.LOGIN_FAILURE_IP_LIMIT:
        return 0
    return ratelimit.seconds_left(window=window)


def login_failure_record(request: HttpRequest, username: str) -> None:
    window = _window()
    if username:
        ratelimit.hit(_account_key(username), limit=settings.LOGIN_FAILURE_LIMIT, window=window)
    ratelimit.hit(_ip_key(request), limit=settings.LOGIN_FAILURE_IP_LIMIT, window=window)


def login_success_record(request: HttpRequest, username: str) -> None:
    """The account's own failures are forgiven; the client's per-IP count is not, so a
    valid login of one account cannot clear the way to guess at others."""
    ratelimit.reset(_account_key(username), window=_window())


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed log-in attempts. Try again in %(n)d minute.",
        "Too many failed log-in attempts. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing early while the account name or client is locked."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "That username or e-mail and password do not match. Check both and try again."
        ),
        "throttled": "%(message)s",
    }

    #: Seconds the client must wait; set when the attempt was refused by the throttle.
    retry_after: int = 0

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any):
        super().__init__(request, *args, **kwargs)
        # People log in with their e-mail too, which may be longer than a username.
        self.fields["username"].max_length = 254
        self.fields["username"].widget.attrs["maxlength"] = 254

    def clean_username(self) -> str:
        value = self.cleaned_data["username"]
        if len(value) > 254:
            raise forms.ValidationError(_("That is longer than any username or e-mail here."))
        return value

    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "")[:254]
        if self.request is not None:
            wait = login_locked_for(self.request, username)
            if wait:
                self.retry_after = wait
                raise forms.ValidationError(
                    self.error_messages["throttled"],
                    code="throttled",
                    params={"message": lockout_message(wait)},
                )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if self.request is not None:
                login_failure_record(self.request, username)
            raise
        if self.request is not None:
            login_success_record(self.request, username)
        return cleaned
