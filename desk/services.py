"""Every write of the manager pages, each recorded in the audit log in the same
transaction, and the user's own preferences.

A manager page hands its validated ModelForm to :func:`audited_form_save` (or an
instance to :func:`audited_delete`): the before/after snapshot is read from the
database under a row lock, so the diff is what really changed, even when two
managers save at once."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import ConflictError, DomainError
from integrations.models import ApiToken
from tiers.models import AgentProfile, BusinessCalendar, EscalationPolicy

from .middleware import SESSION_KEY
from .models import AuditEntry, UserPreference

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.forms import ModelForm
    from django.http import HttpRequest

#: Never written to the log: secrets stay where they are kept.
SECRET_FIELDS = frozenset({"secret", "key_hash", "password"})


def _plain(value: Any) -> Any:
    """A snapshot value as JSON a person can read (``2:00:00``, not ``P0DT02H``)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def audit_snapshot(instance: models.Model) -> dict[str, Any]:
    """The editable fields of ``instance`` as plain JSON values; relations by name."""
    data: dict[str, Any] = {}
    opts = instance._meta
    for field in opts.concrete_fields:
        if not field.editable or field.primary_key or field.name in SECRET_FIELDS:
            continue
        if field.is_relation:
            data[field.name] = _plain(getattr(instance, field.name))
        else:
            data[field.name] = _plain(field.value_from_object(instance))
    if instance.pk is not None:
        for field in opts.many_to_many:
            data[field.name] = sorted(str(o) for o in getattr(instance, field.name).all())
    return data


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    keys = list(dict.fromkeys([*before, *after]))
    return {
        key: [before.get(key), after.get(key)] for key in keys if before.get(key) != after.get(key)
    }


def audit_record(
    *,
    actor: AbstractBaseUser,
    action: str,
    instance: models.Model,
    changes: dict[str, list[Any]] | None = None,
    note: str = "",
    object_id: Any = None,
) -> AuditEntry:
    opts = instance._meta
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username(),
        action=action,
        object_type=opts.label_lower,
        object_id=str(object_id if object_id is not None else instance.pk),
        object_repr=str(instance)[:200],
        changes=changes or {},
        note=note[:300],
    )


def _locked_snapshot(instance: models.Model) -> dict[str, Any]:
    current = type(instance)._default_manager.select_for_update().filter(pk=instance.pk).first()
    if current is None:
        raise ConflictError(_("Someone else deleted this while you were editing it."))
    return audit_snapshot(current)


@transaction.atomic
def audited_form_save(
    *, form: ModelForm, actor: AbstractBaseUser, note: str = ""
) -> tuple[models.Model, AuditEntry | None]:
    """Save a valid ModelForm and log what changed. No entry when nothing changed."""
    creating = form.instance._state.adding
    before = {} if creating else _locked_snapshot(form.instance)
    _before_save(form.instance)
    obj = form.save()
    changes = audit_diff(before, audit_snapshot(obj))
    if not creating and not changes:
        return obj, None
    action = AuditEntry.Action.CREATE if creating else AuditEntry.Action.UPDATE
    return obj, audit_record(actor=actor, action=action, instance=obj, changes=changes, note=note)


def _before_save(instance: models.Model) -> None:
    # One default calendar at most (a partial unique constraint): choosing a new
    # default moves the mark instead of failing on the constraint.
    if isinstance(instance, BusinessCalendar) and instance.is_default:
        for old in BusinessCalendar.objects.filter(is_default=True).exclude(pk=instance.pk):
            old.is_default = False
            old.save(update_fields=["is_default", "updated_at"])


@transaction.atomic
def audited_delete(*, instance: models.Model, actor: AbstractBaseUser) -> AuditEntry:
    """Delete ``instance`` and log its last state; refuses when other rows use it."""
    before = _locked_snapshot(instance)
    object_id = instance.pk
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError as exc:
        raise ConflictError(
            _("“%(name)s” is still in use and cannot be deleted.") % {"name": instance}
        ) from exc
    changes = {key: [value, None] for key, value in before.items()}
    return audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        instance=instance,
        changes=changes,
        object_id=object_id,
    )


# ---------------------------------------------------------------------------
# Agents
# ---------------------------------------------------------------------------


@transaction.atomic
def agent_create(
    *,
    actor: AbstractBaseUser,
    username: str,
    email: str,
    first_name: str,
    last_name: str,
    tier: int,
    is_manager: bool,
    request: HttpRequest,
) -> AgentProfile:
    """A new agent account with no password: the agent gets the "set your password"
    e-mail of the password-reset flow, so the manager never knows it."""
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(_("The username %(u)s is taken.") % {"u": username}, field="username")
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError(_("An account with this e-mail exists already."), field="email")
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    user.save()
    profile = AgentProfile.objects.create(user=user, tier=tier, is_manager=is_manager)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=profile,
        changes=audit_diff({}, {"username": username, "email": email, **audit_snapshot(profile)}),
    )
    transaction.on_commit(lambda: _send_password_link(user=user, request=request))
    return profile


def _send_password_link(*, user: AbstractBaseUser, request: HttpRequest) -> None:
    form = PasswordResetForm(data={"email": user.email})
    if form.is_valid():
        # The reset form skips accounts without a usable password; a new agent has
        # none yet, so it is given as the only recipient.
        form.get_users = lambda email: iter([user])
        form.save(request=request, use_https=request.is_secure())


@transaction.atomic
def agent_password_reset(
    *, actor: AbstractBaseUser, profile: AgentProfile, request: HttpRequest
) -> AuditEntry:
    """The agent's password stops working (which ends their sessions) and they get a
    link to choose a new one."""
    user = get_user_model().objects.select_for_update().get(pk=profile.user_id)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    transaction.on_commit(lambda: _send_password_link(user=user, request=request))
    return audit_record(
        actor=actor,
        action=AuditEntry.Action.ACTION,
        instance=profile,
        note=_("Password reset: sessions ended, a new-password link was e-mailed."),
    )


@transaction.atomic
def agent_tokens_revoke(*, actor: AbstractBaseUser, profile: AgentProfile) -> int:
    """Revoke every usable API token of the agent; returns how many."""
    count = ApiToken.objects.filter(user_id=profile.user_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.ACTION,
        instance=profile,
        note=_("API tokens revoked: %(n)s.") % {"n": count},
    )
    return count


@transaction.atomic
def api_token_revoke_any(*, actor: AbstractBaseUser, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        raise ConflictError(_("This token was revoked already."))
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.ACTION,
        instance=token,
        changes={"revoked_at": [None, _plain(token.revoked_at)]},
        note=_("Revoked the token of %(user)s.") % {"user": token.user.get_username()},
    )
    return token


# ---------------------------------------------------------------------------
# The user's own preferences
# ---------------------------------------------------------------------------


def user_time_zone_of(*, user: AbstractBaseUser) -> str:
    pref = UserPreference.objects.filter(user=user).only("time_zone").first()
    return pref.time_zone if pref else ""


@transaction.atomic
def user_time_zone_set(*, user: AbstractBaseUser, time_zone: str, request: HttpRequest) -> None:
    UserPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    session_time_zone_load(request=request, user=user, time_zone=time_zone)


def session_time_zone_load(
    *, request: HttpRequest, user: AbstractBaseUser, time_zone: str | None = None
) -> None:
    """Keep the user's zone in their session (read by ``UserTimeZoneMiddleware``)."""
    if time_zone is None:
        time_zone = user_time_zone_of(user=user)
    if time_zone:
        request.session[SESSION_KEY] = time_zone
    else:
        request.session.pop(SESSION_KEY, None)


@transaction.atomic
def escalation_budgets_set(
    *, actor: AbstractBaseUser, budgets: list[tuple[int, str, timedelta]]
) -> int:
    """Set each ``(tier, priority, budget)``; a missing policy row is created. One audit
    entry per changed budget. Tickets already in a tier keep their deadline; the new
    budget applies from their next tier entry."""
    count = 0
    for tier, priority, budget in budgets:
        policy = (
            EscalationPolicy.objects.select_for_update()
            .filter(tier=tier, priority=priority)
            .first()
        )
        if policy is None:
            policy = EscalationPolicy.objects.create(tier=tier, priority=priority, budget=budget)
            changes = audit_diff({}, audit_snapshot(policy))
            action = AuditEntry.Action.CREATE
        elif policy.budget != budget:
            changes = {"budget": [_plain(policy.budget), _plain(budget)]}
            policy.budget = budget
            policy.save(update_fields=["budget", "updated_at"])
            action = AuditEntry.Action.UPDATE
        else:
            continue
        audit_record(actor=actor, action=action, instance=policy, changes=changes)
        count += 1
    return count
