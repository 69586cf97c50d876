"""LDAP / Active Directory: password login and group sync, on django-auth-ldap.

django-auth-ldap binds, searches the user and their groups, and keeps the account's
name and e-mail in step with the directory. This module decides which local account a
directory entry is (``identity.services.identity_resolve``: its link by DN first, an
existing account only by the same e-mail — never by a username that merely matches),
maps the entry's groups to a role and tier, and runs the periodic sync that switches
off people who left the directory or lost every help-desk group.

Directory errors reach us by django-auth-ldap's ``ldap_error`` signal
(``note_ldap_error``): the login page then says the directory is down instead of
"wrong password", and a sync stops before it deprovisions anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import ldap
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import (
    ActiveDirectoryGroupType,
    GroupOfNamesType,
    LDAPSearch,
    PosixGroupType,
)

from helpdesk.auth import UsernameOrEmailBackend

from . import services
from .config import Role, ldap_enabled, ldap_group_map
from .models import ExternalIdentity
from .services import ExternalClaims, IdentityError

logger = logging.getLogger(__name__)

PROVIDER = "directory"
#: Set on the request when the directory could not be asked (login page message).
LDAP_DOWN = "_identity_ldap_down"
#: Set on the request with the message of a directory login refused by Tierdesk.
LDAP_REFUSED = "_identity_ldap_refused"

_GROUP_TYPES = {
    "groupofnames": GroupOfNamesType,
    "posixgroup": PosixGroupType,
    "activedirectory": ActiveDirectoryGroupType,
}
_errors: ContextVar[list | None] = ContextVar("identity_ldap_errors", default=None)


def note_ldap_error(sender: Any, context: str, user: Any, request: Any, exception: Exception, **kw):
    """``ldap_error`` receiver: remember that the directory failed, for the caller."""
    if request is not None:
        setattr(request, LDAP_DOWN, True)
    box = _errors.get()
    if box is not None:
        box.append(exception)


@contextmanager
def _recording_errors() -> Iterator[list]:
    box: list = []
    token = _errors.set(box)
    try:
        yield box
    finally:
        _errors.reset(token)


def django_auth_ldap_settings() -> dict[str, Any]:
    """django-auth-ldap's settings, from ``TIERDESK_LDAP`` (README "Single sign-on")."""
    conf = settings.TIERDESK_LDAP
    timeout = float(conf.get("TIMEOUT", 5))
    options: dict[int, Any] = {
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_REFERRALS: 0,  # Active Directory's referrals need another bind
    }
    if conf.get("CA_CERT_FILE"):
        options[ldap.OPT_X_TLS_CACERTFILE] = conf["CA_CERT_FILE"]
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # must come last: applies the TLS options
    group_type = _GROUP_TYPES[str(conf.get("GROUP_TYPE", "groupOfNames")).lower()]
    return {
        "SERVER_URI": conf.get("SERVER_URI", ""),
        "START_TLS": bool(conf.get("START_TLS", False)),
        "BIND_DN": conf.get("BIND_DN", ""),
        "BIND_PASSWORD": conf.get("BIND_PASSWORD", ""),
        "CONNECTION_OPTIONS": options,
        "USER_SEARCH": LDAPSearch(
            conf.get("USER_SEARCH_BASE", ""),
            ldap.SCOPE_SUBTREE,
            conf.get("USER_FILTER", "(uid=%(user)s)"),
        ),
        "GROUP_SEARCH": LDAPSearch(
            conf.get("GROUP_SEARCH_BASE", conf.get("USER_SEARCH_BASE", "")),
            ldap.SCOPE_SUBTREE,
            conf.get("GROUP_FILTER", "(objectClass=*)"),
        ),
        "GROUP_TYPE": group_type(),
        "USER_ATTR_MAP": {
            "first_name": conf.get("ATTR_FIRST_NAME", "givenName"),
            "last_name": conf.get("ATTR_LAST_NAME", "sn"),
            "email": conf.get("ATTR_EMAIL", "mail"),
        },
        "ALWAYS_UPDATE_USER": True,
    }


def _first(attrs: dict | None, name: str) -> str:
    values = (attrs or {}).get(name) or (attrs or {}).get(name.lower()) or [""]
    return str(values[0])


def claims_of(ldap_user: Any) -> ExternalClaims:
    conf = settings.TIERDESK_LDAP
    attrs = ldap_user.attrs
    return ExternalClaims(
        subject=str(ldap_user.dn).lower(),
        email=_first(attrs, conf.get("ATTR_EMAIL", "mail")),
        email_verified=True,  # the company's own directory vouches for its addresses
        username=str(getattr(ldap_user, "_username", "") or ""),
        first_name=_first(attrs, conf.get("ATTR_FIRST_NAME", "givenName")),
        last_name=_first(attrs, conf.get("ATTR_LAST_NAME", "sn")),
        groups=tuple(sorted(set(ldap_user.group_dns) | set(ldap_user.group_names))),
    )


class DirectoryBackend(LDAPBackend):
    """django-auth-ldap's backend, configured from ``TIERDESK_LDAP``."""

    # Nothing is read from AUTH_LDAP_* settings: everything comes from default_settings.
    settings_prefix = "TIERDESK_UNUSED_AUTH_LDAP_"

    @property
    def default_settings(self) -> dict[str, Any]:  # type: ignore[override]
        return django_auth_ldap_settings()

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if not ldap_enabled() or not username or not password:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id: Any):
        # The project's session path (user memo, is_active), not django-auth-ldap's.
        return UsernameOrEmailBackend().get_user(user_id)

    def get_or_build_user(self, username: str, ldap_user: Any):
        claims = claims_of(ldap_user)
        user, _link = services.identity_resolve(
            source=ExternalIdentity.Source.LDAP,
            provider=PROVIDER,
            claims=claims,
            email_trusted=True,
        )
        if user is not None:
            return user, False
        return services.identity_user_build(claims=claims), True

    def authenticate_ldap_user(self, ldap_user: Any, password: str):
        request = getattr(ldap_user, "_request", None)
        try:
            with transaction.atomic():
                user = super().authenticate_ldap_user(ldap_user, password)
                if user is None:
                    return None
                decision = directory_update(user=user, ldap_user=ldap_user, synced=False)
        except IdentityError as exc:
            if request is not None:
                setattr(request, LDAP_REFUSED, exc.message)
            return None
        if decision.role == Role.NONE:
            if request is not None:
                setattr(
                    request,
                    LDAP_REFUSED,
                    "The directory does not list you in a group that may use the help desk. "
                    "Ask your administrator for access.",
                )
            return None
        return user


def directory_update(*, user: Any, ldap_user: Any, synced: bool):
    """Record the entry's link and groups and apply its role; returns the decision.

    A person in no help-desk group (with ``DEFAULT_ROLE`` "none") keeps the account but
    loses its staff profile; the sync switches such accounts off."""
    claims = claims_of(ldap_user)
    decision = ldap_group_map().decide(claims.groups)
    link = ExternalIdentity.objects.filter(
        source=ExternalIdentity.Source.LDAP, provider=PROVIDER, subject=claims.subject
    ).first()
    applied = decision if decision.role != Role.NONE else services.RoleDecision(Role.CUSTOMER)
    services.identity_link_update(
        user=user,
        link=link,
        source=ExternalIdentity.Source.LDAP,
        provider=PROVIDER,
        claims=claims,
        decision=applied,
        email_trusted=True,
        synced=synced,
    )
    return decision


class DirectoryUnavailable(Exception):
    pass


@dataclass
class SyncReport:
    checked: int = 0
    updated: int = 0
    deprovisioned: int = 0

    def __str__(self) -> str:
        return (
            f"{self.checked} directory account(s) checked, {self.updated} updated, "
            f"{self.deprovisioned} switched off"
        )


def _check_directory(backend: DirectoryBackend) -> None:
    conf = backend.settings
    try:
        conn = backend.ldap.initialize(conf.SERVER_URI, bytes_mode=False)
        for opt, value in conf.CONNECTION_OPTIONS.items():
            conn.set_option(opt, value)
        if conf.START_TLS:
            conn.start_tls_s()
        conn.simple_bind_s(conf.BIND_DN, conf.BIND_PASSWORD)
        conn.unbind_s()
    except ldap.LDAPError as exc:
        raise DirectoryUnavailable(
            f"the directory at {conf.SERVER_URI} did not answer: {exc}"
        ) from exc


def directory_sync() -> SyncReport:
    """Bring every directory-linked account in step with the directory now.

    An account whose entry is gone, or whose groups map to no role, is switched off
    (``identity_deprovision``); the others get their current role and tier. If the
    directory fails at any point the sync stops and raises ``DirectoryUnavailable``:
    an outage must never look like everyone having left."""
    report = SyncReport()
    if not ldap_enabled():
        return report
    backend = DirectoryBackend()
    _check_directory(backend)
    links = (
        ExternalIdentity.objects.filter(source=ExternalIdentity.Source.LDAP, provider=PROVIDER)
        .exclude(username="")
        .select_related("user")
        .order_by("id")
    )
    for link in links:
        if not link.user.is_active and link.deprovisioned_at is not None:
            continue
        report.checked += 1
        with _recording_errors() as errors:
            try:
                with transaction.atomic():
                    user = backend.populate_user(link.username)
                    decision = (
                        directory_update(user=user, ldap_user=user.ldap_user, synced=True)
                        if user is not None
                        else None
                    )
            except IdentityError as exc:
                logger.warning("identity: sync of %s skipped: %s", link.username, exc.message)
                continue
        if errors:
            raise DirectoryUnavailable(f"the directory failed during the sync: {errors[0]}")
        if user is None or decision.role == Role.NONE:
            if services.identity_deprovision(
                user=link.user, reason="left the directory" if user is None else "no group"
            ):
                report.deprovisioned += 1
        else:
            report.updated += 1
    logger.info("identity: directory sync at %s: %s", timezone.now().isoformat(), report)
    return report
