"""Writes for personal API tokens and webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.cache import WEBHOOKS, VersionedMemo
from helpdesk.exceptions import DomainError

from . import egress
from .models import ApiToken, Webhook, WebhookDelivery, WebhookEventType
from .scopes import ALL_SCOPES

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from tickets.models import TicketEvent

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# API tokens
# ---------------------------------------------------------------------------

#: Tokens look like ``tdk_<43 url-safe characters>``: the prefix makes a leaked token
#: easy to recognise in logs and by secret scanners.
TOKEN_PREFIX = "tdk_"  # noqa: S105 - a public marker, not a secret
TOKEN_BYTES = 32  # 256 bits of randomness
PREFIX_SHOWN = 12
MAX_ACTIVE_TOKENS = 20
#: Last-used time is written at most this often: one UPDATE a minute, not one a request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_default_expiry() -> datetime | None:
    """When a new token expires unless its owner chooses: API_TOKEN_DEFAULT_EXPIRY_DAYS
    from now (0: never)."""
    days = settings.API_TOKEN_DEFAULT_EXPIRY_DAYS
    return timezone.now() + timedelta(days=days) if days > 0 else None


@transaction.atomic
def api_token_create(
    *,
    user: AbstractBaseUser,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None = None,
    never_expires: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is never stored or shown again.

    ``scopes`` (``TokenScope`` values, at least one) bound what it may do. Without
    ``expires_at`` it expires after the default lifetime, unless ``never_expires``."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the token a name."), field="name")
    unknown = sorted({str(s) for s in scopes} - set(ALL_SCOPES))
    if unknown:
        raise DomainError(
            _("Unknown scope: %(scopes)s.") % {"scopes": ", ".join(unknown)}, field="scopes"
        )
    if not scopes:
        raise DomainError(_("Choose at least one scope."), field="scopes")
    if expires_at is None and not never_expires:
        expires_at = api_token_default_expiry()
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(_("The expiry must be in the future."), field="expires_at")
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True).exclude(
        expires_at__lte=timezone.now()
    )
    if active.count() >= MAX_ACTIVE_TOKENS:
        raise DomainError(
            _("You already have %(n)s active tokens; revoke one first.") % {"n": MAX_ACTIVE_TOKENS}
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:PREFIX_SHOWN],
        key_hash=token_hash(raw),
        scopes=[scope for scope in ALL_SCOPES if scope in {str(s) for s in scopes}],
        expires_at=expires_at,
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, user: AbstractBaseUser, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (someone else's is a 404)."""
    token = get_object_or_404(ApiToken.objects.select_for_update(), pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def api_tokens_revoke_all(*, user: AbstractBaseUser) -> int:
    """Revoke every live token of ``user`` (a deprovisioned account): a reactivated
    account does not get its old integrations back. Returns how many were revoked."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The usable token for ``raw`` (with its user), or ``None``. Records the last use."""
    if not raw or len(raw) > 100 or not raw.startswith(TOKEN_PREFIX):
        return None
    digest = token_hash(raw)
    token = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
    # The lookup is by an index on the hash; compare again in constant time anyway.
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    if not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# ---------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Tierdesk-Signature"
TIMESTAMP_HEADER = "X-Tierdesk-Timestamp"
EVENT_HEADER = "X-Tierdesk-Event"
DELIVERY_HEADER = "X-Tierdesk-Delivery"


def webhook_event_type_for(event: TicketEvent) -> str | None:
    """The webhook event type a ticket event maps to, if any."""
    from tickets.models import TicketEvent

    kind = TicketEvent.Kind
    return {
        kind.CREATED: WebhookEventType.TICKET_CREATED,
        kind.ESCALATED: WebhookEventType.TICKET_ESCALATED,  # an agent's hand-off
        kind.PROMOTED: WebhookEventType.TICKET_ESCALATED,  # the tier timer
        kind.VENDOR_HANDOFF: WebhookEventType.TICKET_ESCALATED,  # Tier 3 → vendor
        kind.RESOLVED: WebhookEventType.TICKET_RESOLVED,
    }.get(event.kind)


def sign_payload(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>.<body>"``. The timestamp is
    signed too, so a captured delivery cannot be replayed later with a new one."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    *, secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300
) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale timestamps."""
    try:
        age = abs(time.time() - int(timestamp))
    except (TypeError, ValueError):
        return False
    if age > tolerance:
        return False
    expected = sign_payload(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, signature or "")


#: Every Webhook save or delete bumps this counter (receivers in
#: ``IntegrationsConfig.ready``): the subscription list is read once per process and
#: version instead of after every ticket event (a submission's "created" among them).
_subscriptions = VersionedMemo(WEBHOOKS)
webhooks_version = _subscriptions.version


def active_webhooks() -> tuple[tuple[int, frozenset[str]], ...]:
    """``(id, subscribed event types)`` of every active webhook, as plain data (the
    delivery task loads the row itself and skips one deactivated since)."""
    return _subscriptions.get(
        "active",
        lambda: tuple(
            (w.pk, frozenset(w.events or ()))
            for w in Webhook.objects.filter(is_active=True).only("id", "events").order_by()
        ),
    )


def webhook_event_hook(event: TicketEvent) -> None:
    """Registered in ``tickets.services.core.EVENT_HOOKS``; runs after commit. Queues one
    delivery per subscribed active webhook. Never raises: a webhook must not break a
    ticket action."""
    webhook_events_hook([event])


def webhook_events_hook(events: Sequence[TicketEvent]) -> None:
    """:func:`webhook_event_hook` for many events at once, reading the webhooks once:
    the escalation sweep promotes hundreds of tickets per batch, and one query per
    event was two thirds of its time (10,000 promotions: 10 s of webhook queries)."""
    typed = [(event, webhook_event_type_for(event)) for event in events]
    typed = [(event, event_type) for event, event_type in typed if event_type is not None]
    if not typed:
        return
    try:
        webhooks = active_webhooks()
    except Exception:
        logger.exception("could not read webhooks for %d events", len(typed))
        return
    from .tasks import webhook_deliver

    for event, event_type in typed:
        for hook_id, hook_events in webhooks:
            if str(event_type) not in hook_events:  # a set of plain strings
                continue
            try:
                webhook_deliver.delay(
                    webhook_id=hook_id,
                    event_id=event.pk,
                    event_type=str(event_type),
                    delivery_id=str(uuid.uuid4()),
                )
            except Exception:  # broker down; the event stays in the ticket's timeline
                logger.warning("could not queue webhook %s for event %s", hook_id, event.pk)


#: Callers with many events at once (``tiers.services``) use this instead of one call each.
webhook_event_hook.for_many = webhook_events_hook  # type: ignore[attr-defined]


def webhook_redeliver(*, deliveries: list[WebhookDelivery]) -> int:
    """Queue a fresh delivery (new id, attempts from 1) of each distinct event, for
    receivers that were down longer than the retries lasted. Returns how many."""
    from .tasks import webhook_deliver

    seen: set[tuple[int, int]] = set()
    for delivery in deliveries:
        key = (delivery.webhook_id, delivery.ticket_event_id)
        if delivery.ticket_event_id is None or key in seen:
            continue
        seen.add(key)
        webhook_deliver.delay(
            webhook_id=delivery.webhook_id,
            event_id=delivery.ticket_event_id,
            event_type=delivery.event_type,
            delivery_id=str(uuid.uuid4()),
        )
    return len(seen)


def webhook_url_check(*, url: str) -> None:
    """Refuse a webhook URL that leads inside the help desk's network (or nowhere):
    what the admin form checks on save. Deliveries check again (``webhook_attempt``)."""
    try:
        egress.check_url(url)
    except egress.EgressRefused as exc:
        if str(exc) == egress.REFUSED_INTERNAL:
            raise DomainError(
                _(
                    "Refused: internal address. Webhooks may only call public addresses; an "
                    "on-premise receiver's network must be listed in WEBHOOK_ALLOWED_NETWORKS."
                ),
                field="url",
            ) from exc
        raise DomainError(str(exc), field="url") from exc
    except egress.EgressFailed as exc:
        raise DomainError(_("The host name does not resolve."), field="url") from exc


def webhook_payload(*, event: TicketEvent, event_type: str, delivery_id: str) -> dict[str, Any]:
    ticket = event.ticket
    data = event.data or {}
    payload: dict[str, Any] = {
        "id": delivery_id,
        "type": event_type,
        "created_at": event.created_at.isoformat(),
        "ticket": {
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": ticket.status,
            "tier": ticket.tier,
            "priority": ticket.priority,
            "category": ticket.category.slug,
            "url": settings.SITE_URL + ticket.get_absolute_url(),
        },
        "event": {"id": event.pk, "kind": event.kind},
    }
    if event_type == WebhookEventType.TICKET_ESCALATED:
        payload["event"].update(
            from_tier=data.get("from_tier"),
            to_tier=data.get("to_tier", ticket.tier),
            manual=bool(data.get("manual")),
        )
    elif event_type == WebhookEventType.TICKET_RESOLVED:
        payload["event"].update(resolved_tier=data.get("tier"), article=data.get("article"))
    elif event_type == WebhookEventType.TRIGGER_FIRED:
        payload["event"].update(rule=data.get("rule"), on=data.get("on"))
    return payload


@dataclass(frozen=True)
class AttemptResult:
    delivery: WebhookDelivery | None
    retry: bool


def _retryable_status(status: int) -> bool:
    return status >= 500 or status == 429


def webhook_attempt(
    *, webhook_id: int, event_id: int, event_type: str, delivery_id: str, attempt: int
) -> AttemptResult:
    """POST one signed delivery and log it. ``retry`` says whether the caller should try
    again later (network errors, 5xx and 429, while attempts remain). The log keeps the
    status and a short excerpt of the answer; an internal address is refused without
    being contacted (``integrations.egress``)."""
    from tickets.models import TicketEvent

    webhook = Webhook.objects.filter(pk=webhook_id, is_active=True).first()
    event = (
        TicketEvent.objects.select_related("ticket", "ticket__category").filter(pk=event_id).first()
    )
    if webhook is None or event is None:  # deactivated or deleted meanwhile: nothing to do
        return AttemptResult(None, False)
    payload = webhook_payload(event=event, event_type=event_type, delivery_id=delivery_id)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tierdesk-Webhooks/1.0",
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign_payload(secret=webhook.secret, timestamp=timestamp, body=body),
    }
    status: int | None = None
    response_text = ""
    error = ""
    retryable = False
    started = time.monotonic()
    # Checked again here, not only when saved: DNS may point the name inside since.
    try:
        answer = egress.post(
            webhook.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        )
    except egress.EgressRefused as exc:  # the receiver's address: retrying will not help
        error = str(exc)
    except egress.EgressFailed as exc:
        error, retryable = str(exc), exc.retryable
    else:
        status, response_text = answer.status, answer.excerpt
        retryable = _retryable_status(status)
    succeeded = status is not None and 200 <= status < 300
    will_retry = retryable and not succeeded and attempt < settings.WEBHOOK_MAX_ATTEMPTS
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        delivery_id=delivery_id,
        event_type=event_type,
        ticket_event=event,
        attempt=attempt,
        payload=payload,
        status_code=status,
        response_body=response_text,
        error=error,
        succeeded=succeeded,
        will_retry=will_retry,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return AttemptResult(delivery, will_retry)


def webhook_backoff(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: base, 2×base, 4×base, … capped at an hour."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return int(min(base * 2 ** max(attempt - 1, 0), 3600))
