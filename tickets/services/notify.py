"""Who hears about an event, and the sending itself (run by a task after commit)."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk import cache as caching
from helpdesk import mailthread
from tiers.models import CUSTOMER_TIER_NAMES
from tiers.selectors import agents_of_tier, managers

from ..models import Notification, TicketEvent

logger = logging.getLogger(__name__)
Kind = TicketEvent.Kind

#: Public events the customer is e-mailed about (their own replies are not echoed).
CUSTOMER_KINDS = {
    Kind.CREATED, Kind.REPLY, Kind.STATUS, Kind.RESOLVED, Kind.REOPENED, Kind.REMINDER, Kind.CLOSED,
    Kind.EDITED,
}  # fmt: skip
#: Events that put a ticket in front of a tier's agents.
TIER_KINDS = {Kind.ESCALATED, Kind.PROMOTED, Kind.DEESCALATED, Kind.BOUNCED}
#: Customer mails a person wrote; every other notification is automatic (RFC 3834).
HUMAN_KINDS = {Kind.REPLY, Kind.RESOLVED}


def thread_headers(
    *,
    audience: str,
    object_id: int,
    event_id: int | None = None,
    auto: str = "",
    first_ids: tuple[str, ...] = (),
) -> dict[str, str]:
    """Headers that thread a notification in mail clients and bring a reply back to
    its ticket (``helpdesk.mailthread``): our own ``Message-ID``, ``In-Reply-To`` and
    ``References`` naming the thread (after ``first_ids``, e.g. the customer's own
    first message), ``Reply-To`` with the signed address when the inbound channel is
    configured, and ``Auto-Submitted`` (``auto`` = ``auto-replied``/``auto-generated``)
    so that other robots do not answer ours."""
    token = mailthread.token_for(audience, object_id)
    root = mailthread.message_id(token)
    references = [*first_ids, root]
    headers = {
        "Message-ID": mailthread.message_id(token, event_id=event_id) if event_id else root,
        "References": " ".join(references),
    }
    if event_id:
        headers["In-Reply-To"] = references[-1]
    reply_to = mailthread.reply_address(token)
    if reply_to:
        headers["Reply-To"] = reply_to
    if auto:
        headers["Auto-Submitted"] = auto
        headers["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office back
    return headers


class _Mail(EmailMultiAlternatives):
    def message(self, *args: Any, **kwargs: Any) -> Any:
        msg = super().message(*args, **kwargs)
        if msg.is_multipart() and msg.get_boundary() is None:
            # Without a boundary the standard library makes one and proves it absent
            # from the text with a regular expression compiled for that boundary alone:
            # 0.5 ms per message, a fifth of a notification's cost. 128 random bits
            # cannot occur in the text (it is ours or encoded; nobody sees the boundary
            # before the message is sent).
            msg.set_boundary(f"tierdesk-{secrets.token_hex(16)}")
        return msg


def send_templated_mail(
    *,
    to: list[str],
    subject: str,
    template: str,
    context: dict,
    connection: Any = None,
    headers: dict[str, str] | None = None,
) -> None:
    """E-mail ``emails/<template>.txt`` with its ``.html`` twin; nothing when ``to`` is
    empty. ``connection``: an open mail connection to reuse (one SMTP session for a
    batch of notifications instead of one per message). ``headers``: e.g.
    :func:`thread_headers`."""
    if not to:
        return
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = _Mail(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        connection=connection,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    message.send()


def _staff_recipients(event: TicketEvent) -> list:
    ticket = event.ticket
    if event.kind in TIER_KINDS:
        return [p.user for p in agents_of_tier(tier=ticket.tier) if p.user_id != event.actor_id]
    if event.kind == Kind.ESCALATION_REQUESTED:
        # The customer asks for attention: the tier holding the ticket and the managers.
        users = {p.user_id: p.user for p in [*agents_of_tier(tier=ticket.tier), *managers()]}
        extra = {ticket.assignee_id, ticket.owner_id} - {None, *users}
        users.update({u.pk: u for u in get_user_model().objects.filter(pk__in=extra)})
        return [u for pk, u in users.items() if pk != event.actor_id]
    if event.kind == Kind.TRIGGER:  # an automation rule names whom it tells
        user_ids = set((event.data or {}).get("notify", ())) - {None}
        return list(get_user_model().objects.filter(pk__in=user_ids, is_active=True))
    if event.kind in (Kind.CUSTOMER_REPLY, Kind.ASSIGNED):
        user_ids = {ticket.assignee_id, ticket.owner_id} - {None, event.actor_id}
        return list(get_user_model().objects.filter(pk__in=user_ids))
    return []


#: The columns ticket_event_send and the ticket_event_* e-mail templates read. A field
#: left out would cost a query per e-mail (tests/tickets/test_notify_cost.py counts
#: them and compares the e-mails with ones rendered from fully loaded rows).
_SEND_FIELDS = (
    "id", "ticket_id", "kind", "actor_id", "actor_name", "body", "is_public", "data",
    "notify", "notified_at",
    "ticket__id", "ticket__reference", "ticket__tracking_token", "ticket__subject",
    "ticket__requester_name", "ticket__requester_email", "ticket__first_response_due",
    "ticket__tier", "ticket__status", "ticket__priority", "ticket__assignee_id",
    "ticket__owner_id",
    "actor__id", "actor__username", "actor__first_name",
)  # fmt: skip


def _event_rows() -> QuerySet[TicketEvent]:
    # Only what the e-mails and the recipient rules read (every field of the ticket,
    # its category and the actor's user row cost more to compile and build than the
    # row lock itself), and not the model's ordering.
    return TicketEvent.objects.select_related("ticket", "actor").only(*_SEND_FIELDS).order_by()


def _send_event(event: TicketEvent, *, connection: Any = None) -> tuple[int, list[Bell]]:
    """E-mail one event's recipients; return how many were told and the bell
    notifications to store. Every e-mail goes out before anything is written, so an
    event whose sending fails leaves no rows behind (it is sent again later)."""
    ticket = event.ticket
    sent = 0
    base = {
        "event": event,
        "ticket": ticket,
        "site_url": settings.SITE_URL,
        "tier_name": CUSTOMER_TIER_NAMES.get(ticket.tier, ""),
    }
    if event.is_public and event.kind in CUSTOMER_KINDS and ticket.requester_email:
        first = event.data.get("message_id") if event.kind == Kind.CREATED else None
        send_templated_mail(
            to=[ticket.requester_email],
            subject=f"[{ticket.reference}] {ticket.subject}",
            template="ticket_event_customer",
            context={**base, "tracking_url": settings.SITE_URL + ticket.get_tracking_url()},
            connection=connection,
            headers=thread_headers(
                audience="c",
                object_id=ticket.pk,
                event_id=event.pk,
                auto=""
                if event.kind in HUMAN_KINDS
                else ("auto-replied" if event.kind == Kind.CREATED else "auto-generated"),
                first_ids=(first,) if isinstance(first, str) and first else (),
            ),
        )
        sent += 1
    staff = _staff_recipients(event)
    if not staff:
        return sent, []
    send_templated_mail(
        to=[u.email for u in staff if u.email],
        subject=f"[{ticket.reference}] {event.get_kind_display()}: {ticket.subject}",
        template="ticket_event_staff",
        context={**base, "agent_url": settings.SITE_URL + ticket.get_absolute_url()},
        connection=connection,
        headers=thread_headers(
            audience="s", object_id=ticket.pk, event_id=event.pk, auto="auto-generated"
        ),
    )
    text = f"{ticket.reference}: {event.get_kind_display()} — {ticket.subject}"
    return sent + len(staff), [bell(ticket=ticket, event=event, users=staff, text=text)]


@dataclass(frozen=True)
class Bell:
    """One in-app notification for each of ``user_ids`` (the bell in the agent header)."""

    ticket_id: int | None
    event_id: int | None
    text: str
    user_ids: tuple[int, ...]


def bell(*, ticket: Any, event: Any, users: Iterable[Any], text: str, skip: Any = None) -> Bell:
    """A ``Bell`` for these users (``None``s, repeats and the ``skip`` id left out)."""
    ids = dict.fromkeys(u.pk for u in users if u is not None and u.pk != skip)
    return Bell(
        ticket_id=getattr(ticket, "pk", None),
        event_id=getattr(event, "pk", None),
        text=text[:300],
        user_ids=tuple(ids),
    )


def bells_store(bells: Iterable[Bell], *, now: datetime | None = None) -> int:
    """Store the notification rows of many bells; returns how many rows.

    A timer warning for an unassigned ticket, or a promotion, tells every agent of the
    tier: a backlog of 3,000 such warnings with 120 Tier 1 agents is 360,000 rows. As
    Django model instances that took 91 s of a sweep (building, preparing and
    compiling each row); the database expands them instead, from one row per bell and
    one per distinct recipient list, in one statement."""
    bells = [b for b in bells if b.user_ids]
    if not bells:
        return 0
    now = now or timezone.now()
    total = sum(len(b.user_ids) for b in bells)
    groups: dict[tuple[int, ...], int] = {}
    for b in bells:
        groups.setdefault(b.user_ids, len(groups))
    members = [(gid, uid) for ids, gid in groups.items() for uid in ids]
    with db_connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_notification (user_id, ticket_id, event_id, text, created_at) "
            "SELECT g.user_id, b.ticket_id, b.event_id, b.text, %s "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[]) "
            "  AS b(ticket_id, event_id, text, grp) "
            "JOIN unnest(%s::int[], %s::bigint[]) AS g(grp, user_id) USING (grp)",
            [
                now,
                [b.ticket_id for b in bells],
                [b.event_id for b in bells],
                [b.text for b in bells],
                [groups[b.user_ids] for b in bells],
                [gid for gid, _ in members],
                [uid for _, uid in members],
            ],
        )
    # Bulk rows send no post_save: the bells' counters are bumped here.
    caching.bump(
        *(caching.notifications(u) for u in sorted({u for b in bells for u in b.user_ids}))
    )
    return total


def ticket_event_send(*, event_id: int) -> int:
    """Send the notifications of one event, at most once. Returns how many went out."""
    with transaction.atomic():
        event = _event_rows().select_for_update(of=("self",)).filter(pk=event_id).first()
        if event is None or event.notified_at is not None or not event.notify:
            return 0  # gone, or already sent by a retry or the outbox flush
        sent, bells = _send_event(event)
        bells_store(bells)
        event.notified_at = timezone.now()
        event.save(update_fields=["notified_at"])
        return sent


#: Events sent per transaction by ``notifications_send_pending``.
SEND_BATCH = 200


def notifications_send_pending(
    *, older_than: timedelta | None = None, batch: int = SEND_BATCH, max_batches: int = 50
) -> int:
    """Send every pending notification (``notify`` set, ``notified_at`` empty), a batch
    per transaction, over one mail connection per batch. Returns how many recipients
    were told.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``: two workers (or this and the
    outbox flush) never send the same event, and neither waits for the other. If a
    send fails, the events sent before it are marked and committed, and the error is
    raised for the task to retry the rest."""
    total = 0
    for _ in range(max_batches):
        rows = _event_rows().select_for_update(of=("self",), skip_locked=True)
        rows = rows.filter(notify=True, notified_at__isnull=True)
        if older_than is not None:
            rows = rows.filter(created_at__lte=timezone.now() - older_than)
        error: Exception | None = None
        with transaction.atomic():
            # The outbox index (created_at, partial on pending rows) serves this order.
            events = list(rows.order_by("created_at")[:batch])
            done: list[int] = []
            bells: list[Bell] = []
            with get_connection() as mail_connection:
                for event in events:
                    try:
                        sent, bells_of_event = _send_event(event, connection=mail_connection)
                    except Exception as exc:
                        error = exc
                        break
                    total += sent
                    bells += bells_of_event
                    done.append(event.pk)
            bells_store(bells)
            if done:
                TicketEvent.objects.filter(pk__in=done).update(notified_at=timezone.now())
        if error is not None:
            raise error
        if len(events) < batch:
            break
    return total


def notifications_mark_read(*, user: Any, ids: Sequence[int] | None = None) -> int:
    """Mark the user's unread notifications (``ids`` of them, or all) read; the bell's
    counter is bumped here because ``update()`` sends no signal."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    count = qs.update(read_at=timezone.now())
    caching.bump(caching.notifications(user.pk))
    return count


#: A burst of events queues one sending task per window, not one per event.
KICK_KEY = "notify:kick"


def notifications_kick(event_id: int) -> None:
    """Have an event's notifications sent soon; called after its transaction commits.

    The first event of a ``NOTIFY_BATCH_SECONDS`` window queues one sending task that
    runs when the window has closed, so it finds every event committed in the window;
    the others only touch the window's key. A submission burst of 300 tickets a
    second thus costs the worker a few batched tasks instead of 300 (each one a
    Celery round trip, a transaction and an SMTP session). With tasks run eagerly
    (tests) there is nothing to batch: the event is sent at once, alone."""
    from ..tasks import notifications_send, ticket_event_notify

    window = settings.NOTIFY_BATCH_SECONDS
    if notifications_send.app.conf.task_always_eager or window <= 0:
        ticket_event_notify.delay(event_id=event_id)
        return
    try:
        first = cache.add(KICK_KEY, 1, timeout=window)
    except Exception:  # no cache to share the window: queue one anyway (it is idempotent)
        first = True
    if not first:
        return
    try:
        notifications_send.apply_async(countdown=window + 0.25)
    except Exception:  # broker down: the outbox flush sends it later
        logger.warning("could not queue notifications for event %s; outbox will retry", event_id)
        with contextlib.suppress(Exception):
            cache.delete(KICK_KEY)  # let the next event try again
