"""One service behind the three doors (IMAP poller, HTTP endpoint, ``ingest_email``):
take a raw message in, once, and write it through the ticket services — or keep it
in quarantine with the reason. Nothing is lost, nothing is answered twice, a machine
is never answered, and nothing raises to the door that delivered the message.

Per message, one transaction: the ``InboundMessage`` row (unique per Message-ID: a
second delivery is a no-op), then the ticket write (``emailchannel.routing``) in a
savepoint. A refused write rolls back to the savepoint and the message goes to
quarantine in the same transaction, so either the event or the quarantine row is
committed, never neither. The IMAP poller advances its UID in that transaction too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import mailthread, ratelimit
from helpdesk.exceptions import DomainError

from . import routing
from .models import InboundMessage, QuarantinedMessage
from .parse import MalformedMessage, ParsedMail, message_key, parse_message

logger = logging.getLogger(__name__)
Outcome = InboundMessage.Outcome
Reason = QuarantinedMessage.Reason


@dataclass(frozen=True)
class IngestResult:
    outcome: str
    duplicate: bool = False
    ticket_reference: str | None = None
    quarantine_id: int | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "duplicate": self.duplicate,
            "ticket": self.ticket_reference,
            "quarantine_id": self.quarantine_id,
            "detail": self.detail,
        }


def _quarantine(
    *,
    raw: bytes,
    source: str,
    reason: str,
    detail: str,
    parsed: ParsedMail | None,
    inbound: InboundMessage | None,
    now: datetime,
) -> QuarantinedMessage:
    row = QuarantinedMessage(
        inbound=inbound,
        source=source,
        reason=reason,
        detail=detail[:500],
        sender=(parsed.sender if parsed else "")[:254],
        subject=(parsed.subject if parsed else "")[:200],
        message_id=(parsed.message_id if parsed else "")[:998],
        size=len(raw),
        created_at=now,
    )
    # The storage write is not transactional: if the transaction fails after it, the
    # file is an orphan, which is better than a quarantine row without its message.
    row.raw.save(f"{uuid.uuid4().hex}.eml", ContentFile(raw), save=False)
    row.save()
    logger.info("mail quarantined (%s): %s", reason, detail)
    return row


def _refuse(
    *, raw: bytes, source: str, reason: str, detail: str, received_at: datetime, now: datetime
) -> IngestResult:
    """Quarantine bytes we could not read, once per distinct content."""
    with transaction.atomic():
        inbound, created = InboundMessage.objects.get_or_create(
            key=message_key("", raw),
            defaults={"source": source, "outcome": Outcome.QUARANTINED, "received_at": received_at},
        )
        if not created:
            return IngestResult(outcome=inbound.outcome, duplicate=True, detail=detail)
        row = _quarantine(
            raw=raw,
            source=source,
            reason=reason,
            detail=detail,
            parsed=None,
            inbound=inbound,
            now=now,
        )
    return IngestResult(outcome=Outcome.QUARANTINED, quarantine_id=row.pk, detail=detail)


def _claim(row: InboundMessage) -> InboundMessage:
    """Insert the message's record unless its key is known: one statement, no
    savepoint. A concurrent delivery of the same message waits on the unique index
    until this transaction ends, then finds the key taken. ``pk`` stays ``None``
    when the message was already taken in."""
    fields = [f for f in InboundMessage._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {InboundMessage._meta.db_table} ({columns}) VALUES ({placeholders}) "  # noqa: S608 (model metadata only)
            "ON CONFLICT (key) DO NOTHING RETURNING id",
            values,
        )
        found = cursor.fetchone()
    row.pk = found[0] if found else None
    return row


def _sender_over_limit(sender: str) -> bool:
    result = ratelimit.hit(
        f"mail-in:{sender}",
        limit=settings.EMAIL_INBOUND_LIMIT_PER_SENDER,
        window=settings.EMAIL_INBOUND_WINDOW_SECONDS,
    )
    return not result.allowed


def mail_ingest(
    *,
    raw: bytes,
    source: str,
    received_at: datetime | None = None,
    in_transaction: Callable[[], None] | None = None,
    retry_of: QuarantinedMessage | None = None,
) -> IngestResult:
    """Take one raw RFC 5322 message in. Never raises for anything the message holds.

    ``in_transaction`` runs inside the transaction that records the message (the
    poller advances its UID there). ``retry_of``: a manager retries a quarantined
    message; its earlier record is replaced and the rate limit is not counted."""
    now = timezone.now()
    received_at = received_at or now
    if len(raw) > settings.EMAIL_INBOUND_MAX_BYTES:
        detail = _("%(size)s bytes, above the limit of %(max)s.") % {
            "size": len(raw),
            "max": settings.EMAIL_INBOUND_MAX_BYTES,
        }
        result = _refuse(
            raw=raw, source=source, reason=Reason.TOO_LARGE, detail=detail,
            received_at=received_at, now=now,
        )  # fmt: skip
        if in_transaction:
            with transaction.atomic():
                in_transaction()
        return result
    try:
        parsed = parse_message(raw)
    except MalformedMessage as exc:
        result = _refuse(
            raw=raw, source=source, reason=Reason.MALFORMED, detail=str(exc),
            received_at=received_at, now=now,
        )  # fmt: skip
        if in_transaction:
            with transaction.atomic():
                in_transaction()
        return result

    with transaction.atomic():
        if retry_of is not None and retry_of.inbound_id:
            InboundMessage.objects.filter(pk=retry_of.inbound_id).delete()
        inbound = _claim(
            InboundMessage(
                key=parsed.key,
                message_id=parsed.message_id[:998],
                source=source,
                sender=parsed.sender[:254],
                subject=parsed.subject[:200],
                outcome=Outcome.QUARANTINED,  # until the write below says otherwise
                received_at=received_at,
                processed_at=now,
            )
        )
        if in_transaction:
            in_transaction()
        if inbound.pk is None:
            inbound = InboundMessage.objects.select_related("ticket").get(key=parsed.key)
            return IngestResult(
                outcome=inbound.outcome,
                duplicate=True,
                ticket_reference=inbound.ticket.reference if inbound.ticket_id else None,
            )
        result = _route(parsed, raw=raw, source=source, inbound=inbound, now=now, retry=retry_of)
        if retry_of is not None:
            result = _settle_retry(retry_of, result, now=now)
        return result


def _settle_retry(
    retry_of: QuarantinedMessage, result: IngestResult, *, now: datetime
) -> IngestResult:
    """One quarantine row per message: a retry that is refused again updates the
    row it retried (new reason) instead of adding a second one."""
    retry_of.retried_at = now
    fields = ["retried_at"]
    if result.outcome != Outcome.QUARANTINED:
        retry_of.released_at = now
        fields.append("released_at")
    else:
        again = QuarantinedMessage.objects.get(pk=result.quarantine_id)
        retry_of.reason, retry_of.detail, inbound_id = again.reason, again.detail, again.inbound_id
        again.raw.delete(save=False)
        again.delete()
        retry_of.inbound_id = inbound_id
        fields += ["reason", "detail", "inbound"]
        result = IngestResult(
            outcome=result.outcome, quarantine_id=retry_of.pk, detail=retry_of.detail
        )
    retry_of.save(update_fields=fields)
    return result


def _route(
    parsed: ParsedMail,
    *,
    raw: bytes,
    source: str,
    inbound: InboundMessage,
    now: datetime,
    retry: QuarantinedMessage | None,
) -> IngestResult:
    def quarantined(reason: str, detail: str) -> IngestResult:
        inbound.outcome = Outcome.QUARANTINED
        inbound.save(update_fields=["outcome"])
        row = _quarantine(
            raw=raw, source=source, reason=reason, detail=detail, parsed=parsed,
            inbound=inbound, now=now,
        )  # fmt: skip
        return IngestResult(outcome=Outcome.QUARANTINED, quarantine_id=row.pk, detail=detail)

    def recorded(outcome: str, detail: str, ticket=None) -> IngestResult:
        inbound.outcome, inbound.ticket = outcome, ticket
        inbound.save(update_fields=["outcome", "ticket"])
        return IngestResult(
            outcome=outcome, ticket_reference=ticket.reference if ticket else None, detail=detail
        )

    if not parsed.sender or "@" not in parsed.sender:
        return quarantined(Reason.NO_SENDER, _("The message has no usable From address."))
    if mailthread.is_own_address(parsed.sender):
        return recorded(Outcome.OWN, _("From our own address: not answered."))
    if parsed.auto:
        ticket = routing.ticket_of_thread(parsed)
        outcome = Outcome.BOUNCE if parsed.bounce else Outcome.AUTO_REPLY
        return recorded(outcome, parsed.auto, ticket)
    if retry is None and _sender_over_limit(parsed.sender):
        return quarantined(
            Reason.RATE_LIMITED,
            _("More than %(n)s messages from %(sender)s within %(s)s seconds.")
            % {
                "n": settings.EMAIL_INBOUND_LIMIT_PER_SENDER,
                "sender": parsed.sender,
                "s": settings.EMAIL_INBOUND_WINDOW_SECONDS,
            },
        )
    try:
        with transaction.atomic():
            written = routing.write(parsed)
    except routing.NoCategory as exc:
        return quarantined(Reason.NO_CATEGORY, str(exc))
    except DomainError as exc:
        return quarantined(Reason.REFUSED, str(exc))
    except Exception as exc:  # a bug must not lose the message: keep it for a retry
        logger.exception("mail %s could not be written", parsed.message_id)
        return quarantined(Reason.ERROR, f"{type(exc).__name__}: {exc}"[:500])
    inbound.outcome = written.outcome
    inbound.ticket = written.ticket
    inbound.event_id = written.event_id
    inbound.processed_at = timezone.now()  # the write is done: what the bench times
    inbound.save(update_fields=["outcome", "ticket", "event_id", "processed_at"])
    return IngestResult(
        outcome=written.outcome, ticket_reference=written.ticket.reference, detail=written.detail
    )


def quarantine_retry(*, quarantined: QuarantinedMessage) -> IngestResult:
    """A manager retries a quarantined message (after fixing a category, an
    account, a limit): the same ingest, without counting the sender's rate."""
    if quarantined.released_at is not None:
        return IngestResult(outcome="released", detail=_("This message was already posted."))
    with quarantined.raw.open("rb") as handle:
        raw = handle.read()
    return mail_ingest(raw=raw, source=quarantined.source, retry_of=quarantined)
