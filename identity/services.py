"""Provisioning from external identities: link, create, map to a role, switch off.

Every write about who someone is here goes through these functions, whether the
person came through an OpenID provider (``identity.oidc``) or the LDAP directory
(``identity.ldap``):

- ``identity_resolve`` finds the local account of an external identity: its link
  first (by subject, never by e-mail); else an existing account with the same e-mail,
  *only* when the source vouches for the address (a verified-e-mail claim of a trusted
  provider, or the company directory) — otherwise anyone who can type a staff member's
  address into a self-service IdP would own that staff account.
- ``identity_login`` (OIDC) adds just-in-time creation and the role mapping.
- ``identity_apply_role`` writes the fields the rest of the desk reads: the
  ``AgentProfile`` (tier, manager, active) and ``User.is_staff`` (the admin site,
  managers only). The break-glass superuser is never changed by a source.
- ``identity_deprovision`` switches an account off: inactive (the session backend and
  its user memo refuse it at the next request), API tokens revoked, staff profile off.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.services import api_tokens_revoke_all
from tiers.models import AgentProfile

from .config import GroupMap, Role, RoleDecision
from .models import ExternalIdentity

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser

logger = logging.getLogger(__name__)

_USERNAME_OK = re.compile(r"^[\w.@+-]{1,150}$")


class IdentityError(Exception):
    """A login through a source was refused; the message is for the person."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ExternalClaims:
    """What a source says about a person, already checked (signature, issuer, nonce)."""

    subject: str
    email: str = ""
    email_verified: bool = False
    username: str = ""
    first_name: str = ""
    last_name: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)


def _user_model():
    return get_user_model()


def identity_resolve(
    *, source: str, provider: str, claims: ExternalClaims, email_trusted: bool
) -> tuple[AbstractUser | None, ExternalIdentity | None]:
    """The account this identity is (or may be linked to), and its link if it has one.

    ``(None, None)``: nobody here yet. Raises ``IdentityError`` when an existing account
    matches by e-mail but may not be linked (unverified address, several accounts, the
    superuser, a switched-off account)."""
    link = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(source=source, provider=provider, subject=claims.subject)
        .first()
    )
    if link is not None:
        return link.user, link
    if not claims.email:
        return None, None
    matches = list(_user_model().objects.filter(email__iexact=claims.email).order_by("id")[:2])
    if not matches:
        return None, None
    if not email_trusted:
        raise IdentityError(
            _(
                "An account with the e-mail address %(email)s already exists here. It is "
                "linked to single sign-on only when the provider confirms that the address "
                "is verified, and it did not. Log in with your password, or ask your "
                "administrator."
            )
            % {"email": claims.email},
            code="unverified_email",
        )
    if len(matches) > 1:
        raise IdentityError(
            _(
                "Several accounts here use the e-mail address %(email)s, so none was linked. "
                "Ask your administrator to merge them."
            )
            % {"email": claims.email},
            code="ambiguous_email",
        )
    user = matches[0]
    if user.is_superuser:
        # The break-glass account must stay usable when the IdP is the thing that broke.
        raise IdentityError(
            _("The administrator account cannot be linked to single sign-on."),
            code="superuser",
        )
    if not user.is_active:
        raise IdentityError(
            _("The account for %(email)s is switched off. Ask your administrator.")
            % {"email": claims.email},
            code="inactive",
        )
    return user, None


def _free_username(*candidates: str) -> str:
    User = _user_model()
    base = next(
        (c for c in (c.strip() for c in candidates) if c and _USERNAME_OK.match(c)), "user"
    )[:140]
    name, n = base, 1
    while User.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def identity_user_build(*, claims: ExternalClaims) -> AbstractUser:
    """A new, unsaved account for an external identity: no usable password."""
    User = _user_model()
    local_part = claims.email.partition("@")[0] if claims.email else ""
    user = User(
        username=_free_username(claims.username, local_part, claims.subject),
        email=claims.email,
        first_name=claims.first_name[:150],
        last_name=claims.last_name[:150],
    )
    user.set_unusable_password()
    return user


def identity_apply_role(*, user: AbstractUser, decision: RoleDecision) -> None:
    """Give ``user`` the role and tier of ``decision`` (customer: no staff profile)."""
    if user.is_superuser:
        return
    profile = AgentProfile.objects.filter(user=user).first()
    if decision.is_staff_role:
        values = {
            "tier": decision.tier or 1,
            "is_manager": decision.role == Role.MANAGER,
            "is_active": True,
        }
        if profile is None:
            AgentProfile.objects.create(user=user, **values)
        elif any(getattr(profile, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(profile, k, v)
            # save(), not update(): the directory counter (cached profiles) is bumped.
            profile.save(update_fields=[*values, "updated_at"])
    elif profile is not None and profile.is_active:
        profile.is_active = False
        profile.save(update_fields=["is_active", "updated_at"])
    is_staff = decision.role == Role.MANAGER
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


def _role_text(decision: RoleDecision) -> str:
    return f"{decision.role}:{decision.tier}" if decision.tier else decision.role


def identity_link_update(
    *,
    user: AbstractUser,
    link: ExternalIdentity | None,
    source: str,
    provider: str,
    claims: ExternalClaims,
    decision: RoleDecision,
    email_trusted: bool,
    synced: bool = False,
) -> ExternalIdentity:
    """Record what the source said (link, groups, role) and apply the role."""
    now = timezone.now()
    revive = link is not None and link.deprovisioned_at is not None
    if not user.is_active and not revive:
        # Switched off by an administrator, not by a source: a login does not undo that.
        raise IdentityError(
            _("Your account here is switched off. Ask your administrator."), code="inactive"
        )
    if link is None:
        link = ExternalIdentity(user=user, source=source, provider=provider, subject=claims.subject)
    link.username = claims.username[:255]
    link.email = claims.email[:254]
    link.groups = sorted(claims.groups)
    link.role = _role_text(decision)
    link.deprovisioned_at = None
    if synced:
        link.last_synced_at = now
    else:
        link.last_login_at = now
    link.save()
    changed = []
    if email_trusted and claims.email and user.email != claims.email:
        user.email, changed = claims.email, [*changed, "email"]
    for name in ("first_name", "last_name"):
        value = getattr(claims, name)[:150]
        if value and getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if not user.is_active:
        user.is_active = True
        changed.append("is_active")
    if changed:
        user.save(update_fields=changed)
    identity_apply_role(user=user, decision=decision)
    return link


def identity_login(
    *,
    source: str,
    provider: str,
    provider_name: str,
    claims: ExternalClaims,
    group_map: GroupMap,
    email_trusted: bool,
) -> AbstractUser:
    """The account to log in for a checked external identity, created when new.

    A person whose groups map to no role (``default_role`` "none") is refused, and an
    existing account of theirs loses its staff profile on the way out."""
    try:
        return _identity_login(
            source=source,
            provider=provider,
            provider_name=provider_name,
            claims=claims,
            group_map=group_map,
            email_trusted=email_trusted,
        )
    except IntegrityError as exc:
        # Two first logins of one person at the same moment: the other one won.
        raise IdentityError(
            _("You were being signed in twice at once. Start again from the login page."),
            code="concurrent",
        ) from exc


def _identity_login(
    *,
    source: str,
    provider: str,
    provider_name: str,
    claims: ExternalClaims,
    group_map: GroupMap,
    email_trusted: bool,
) -> AbstractUser:
    decision = group_map.decide(claims.groups)
    refused: IdentityError | None = None
    with transaction.atomic():
        user, link = identity_resolve(
            source=source, provider=provider, claims=claims, email_trusted=email_trusted
        )
        if user is not None and not user.is_active and (link is None or not link.deprovisioned_at):
            raise IdentityError(
                _("Your account here is switched off. Ask your administrator."), code="inactive"
            )
        if decision.role == Role.NONE:
            refused = IdentityError(
                _(
                    "%(provider)s does not list you in a group that may use the help desk. "
                    "Ask your administrator for access."
                )
                % {"provider": provider_name},
                code="no_role",
            )
            if user is not None and link is not None:
                identity_apply_role(user=user, decision=RoleDecision(Role.CUSTOMER))
        elif user is None:
            if not claims.email:
                raise IdentityError(
                    _(
                        "%(provider)s did not send your e-mail address, which a new account "
                        "needs. Ask your administrator to release the e-mail claim."
                    )
                    % {"provider": provider_name},
                    code="missing_email",
                )
            if not email_trusted:
                raise IdentityError(
                    _(
                        "%(provider)s did not confirm that your e-mail address is verified, "
                        "so no account was created. Verify it there and try again."
                    )
                    % {"provider": provider_name},
                    code="unverified_email",
                )
            user = identity_user_build(claims=claims)
            user.save()
            logger.info("identity: created %s for %s:%s", user.username, provider, claims.subject)
        if refused is None:
            identity_link_update(
                user=user,
                link=link,
                source=source,
                provider=provider,
                claims=claims,
                decision=decision,
                email_trusted=email_trusted,
            )
    if refused is not None:
        raise refused
    return user


@transaction.atomic
def identity_deprovision(*, user: AbstractUser, reason: str) -> bool:
    """Switch off an account whose source dropped it. Returns False for the superuser
    (never switched off by a source) and for an account already off."""
    if user.is_superuser:
        logger.warning("identity: not deprovisioning superuser %s (%s)", user.username, reason)
        return False
    now = timezone.now()
    ExternalIdentity.objects.filter(user=user, deprovisioned_at__isnull=True).update(
        deprovisioned_at=now
    )
    if not user.is_active:
        return False
    user.is_active = False
    # save(): the user memo of helpdesk.auth is dropped at once and again on commit.
    user.save(update_fields=["is_active"])
    revoked = api_tokens_revoke_all(user=user)
    profile = AgentProfile.objects.filter(user=user, is_active=True).first()
    if profile is not None:
        profile.is_active = False
        profile.save(update_fields=["is_active", "updated_at"])
    logger.info(
        "identity: deprovisioned %s (%s); %d API token(s) revoked", user.username, reason, revoked
    )
    return True
