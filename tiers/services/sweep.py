"""The escalation sweep: timer promotions (bulk, then one by one) and tier warnings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.models import Ticket, TicketEvent
from tickets.services.core import ticket_enter_tier
from tickets.services.events import (
    CasRow,
    events_add,
    ticket_event_create,
    tickets_compare_and_set,
    tickets_update,
)
from tickets.services.notify import (
    bell,
    bells_store,
)

from ..selectors import (
    budget_rule_for,
    policies_pinned,
)
from .common import (
    _SWEEP_COLUMNS,
    RUNNING,
    TIMER,
    SweepReport,
    _CompareAndSetMissed,
    _events_notify_task,
    _explain_text,
    _iso,
    _responsible_users,
    explain,
    promote_dedupe_key,
)
from .sla import _fire_sla_checkpoints
from .vendor import _handoff_locked

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser

logger = logging.getLogger("tiers.services")

Kind = TicketEvent.Kind
Status = Ticket.Status

# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------


def escalation_sweep(*, now: datetime | None = None, batch: int | None = None) -> SweepReport:
    """Promote every overdue ticket, fire due tier warnings and SLA checkpoints.

    ``now`` fixes the clock (tests, the command); without it each batch acts at the
    current time, so ``lag_ms`` in the events is the real deadline-to-promotion lag.
    """
    fixed = now is not None
    now = now or timezone.now()
    batch = batch or settings.ESCALATION_SWEEP_BATCH
    report = SweepReport(now=now)
    started = time.monotonic()
    with policies_pinned():  # each rule read once per sweep, also with the cache down
        _promote_overdue(now=now, fixed=fixed, batch=batch, report=report)
        _fire_tier_warnings(now=now, batch=batch, report=report)
        _fire_sla_checkpoints(now=now, batch=batch, report=report)
    report.duration_ms = (time.monotonic() - started) * 1000
    if report.promoted_count or report.no_vendor or report.sla_breaches:
        logger.info("escalation sweep: %s", report.summary())
    return report


@contextmanager
def _without_bitmap_scans() -> Iterator[None]:
    """Plan the next query without bitmap scans, for this transaction only.

    The batch query wants the ordered scan of the ``(escalate_at, id)`` index that stops
    after ``batch`` rows. When thousands of tickets come due at once the planner cannot
    know it: statistics spread the deadlines over the whole table and multiply in the
    status selectivity, so it expects a handful of rows and picks a bitmap scan that
    reads *every* overdue row, then sorts them — each batch re-reading all the rest
    (150 ms instead of 30 ms per 500-ticket batch with 10,000 due among 1,000,000, and
    quadratic in the backlog). ``set_config(…, true)`` is transaction-local; the old
    value is put back so a caller's enclosing transaction is left as it was."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_bitmapscan'), set_config('enable_bitmapscan', 'off', true)"
        )
        previous = cursor.fetchone()[0]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('enable_bitmapscan', %s, true)", [previous])


def _promote_overdue(*, now: datetime, fixed: bool, batch: int, report: SweepReport) -> None:
    # Keyset cursor: each ticket is looked at once per sweep, so one that cannot be
    # promoted (it errors) does not spin the loop; the next sweep tries it again.
    cursor: tuple[datetime, int] | None = None
    while True:
        with transaction.atomic():
            qs = Ticket.objects.select_for_update(skip_locked=True, no_key=True).filter(
                escalate_at__lte=now, status__in=RUNNING
            )
            if cursor is not None:
                # ``escalate_at >= c`` is a plain range the (escalate_at, id) index can
                # start an ordered scan at; the OR only drops the ties already seen.
                qs = qs.filter(
                    Q(escalate_at__gt=cursor[0]) | Q(pk__gt=cursor[1]),
                    escalate_at__gte=cursor[0],
                )
            with _without_bitmap_scans():
                tickets = list(qs.only(*_SWEEP_COLUMNS).order_by("escalate_at", "pk")[:batch])
            if not tickets:
                return
            cursor = (tickets[-1].escalate_at, tickets[-1].pk)
            acted_at = now if fixed else max(now, timezone.now())
            try:
                with transaction.atomic():
                    _promote_bulk(tickets, now=now, acted_at=acted_at, report=report)
            except Exception as exc:
                # Redo the batch ticket by ticket, each in its own savepoint: one bad
                # ticket must not hold back the others, sweep after sweep.
                logger.warning(
                    "bulk promotion of %d tickets fell back to one by one: %r", len(tickets), exc
                )
                for ticket in tickets:
                    _promote_one(ticket.pk, now=now, acted_at=acted_at, report=report)
        if len(tickets) < batch:
            return


def promotion(
    ticket: Ticket, *, acted_at: datetime
) -> tuple[list[str], dict[str, Any], tuple[str, int, int, int]]:
    """Move a locked, overdue ticket (Tier 1-2) up one tier in memory. Returns the
    fields to write, the PROMOTED event's arguments, and the report line; the bulk and
    the one-by-one paths write them their own way."""
    from_tier, deadline = ticket.tier, ticket.escalate_at
    ex = explain(ticket, budget_rule_for(tier=from_tier, priority=ticket.priority), acted_at)
    fields = ticket_enter_tier(ticket, tier=from_tier + 1, now=acted_at)
    ticket.escalation_count += 1  # the row is locked: no lost update
    ticket.updated_at = acted_at  # a queryset UPDATE does not touch auto_now fields
    event = {
        "kind": Kind.PROMOTED,
        "actor_name": TIMER,
        "body": _explain_text(from_tier, f"promoted to Tier {ticket.tier}", ex),
        "data": {
            "from_tier": from_tier,
            "to_tier": ticket.tier,
            **ex,
            "escalate_at": _iso(ticket.escalate_at),
        },
        "dedupe_key": promote_dedupe_key(ticket.pk, from_tier, deadline),
        "notify": True,
    }
    return fields, event, (ticket.reference, from_tier, ticket.tier, ex["lag_ms"])


def _promote_bulk(
    tickets: list[Ticket], *, now: datetime, acted_at: datetime, report: SweepReport
) -> None:
    """Promote a locked batch: one compare-and-set UPDATE per source tier, one INSERT
    of the events. Tier 3 timeouts go to the vendor hand-off one by one."""
    cas_rows: list[CasRow] = []
    events: list[TicketEvent] = []
    promoted: list[tuple[str, int, int, int]] = []
    fields: list[str] = []
    vendor_bound: list[int] = []
    for ticket in tickets:
        if ticket.tier >= 3:
            vendor_bound.append(ticket.pk)
            continue
        from_tier, deadline, from_status = ticket.tier, ticket.escalate_at, ticket.status
        fields, event, line = promotion(ticket, acted_at=acted_at)
        cas_rows.append(CasRow(ticket, from_tier, deadline, from_status))
        events.append(TicketEvent(ticket=ticket, **event))
        promoted.append(line)
    if events:
        update_fields = sorted({*fields, "escalation_count"})
        if any(r.from_deadline > now or r.from_status not in RUNNING for r in cas_rows):
            raise _CompareAndSetMissed  # read under the sweep's filter: cannot happen
        if tickets_compare_and_set(cas_rows, fields=update_fields) != len(cas_rows):
            raise _CompareAndSetMissed
        # One task per batch rather than per event keeps the broker off the hot path.
        events_add(events, notify_batch=_events_notify_task)
    for ticket_id in vendor_bound:
        _promote_one(ticket_id, now=now, acted_at=acted_at, report=report)
    report.promoted.extend(promoted)


def _promote_one(ticket_id: int, *, now: datetime, acted_at: datetime, report: SweepReport) -> None:
    """One ticket in its own savepoint: a failure rolls back only this ticket."""
    try:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True, no_key=True)
                .filter(pk=ticket_id, escalate_at__lte=now, status__in=RUNNING)
                .first()
            )
            if ticket is None:
                return  # promoted meanwhile, paused, resolved, or locked by someone else
            if ticket.tier >= 3:
                _timeout_to_vendor(ticket, now=now, acted_at=acted_at, report=report)
                return
            cas = CasRow(ticket, ticket.tier, ticket.escalate_at, ticket.status)
            fields, event, line = promotion(ticket, acted_at=acted_at)
            if not tickets_compare_and_set([cas], fields=[*fields, "escalation_count"]):
                return
            ticket_event_create(ticket=ticket, **event)
            report.promoted.append(line)
    except IntegrityError:
        # The dedupe key exists: this deadline was already acted on. Rolled back.
        logger.info("ticket %s: promotion for this deadline already recorded", ticket_id)
    except Exception:
        logger.exception("ticket %s: promotion failed; the next sweep retries", ticket_id)


def _timeout_to_vendor(
    ticket: Ticket, *, now: datetime, acted_at: datetime, report: SweepReport
) -> None:
    deadline = ticket.escalate_at
    ex = explain(ticket, budget_rule_for(tier=ticket.tier, priority=ticket.priority), acted_at)
    key = promote_dedupe_key(ticket.pk, ticket.tier, deadline)
    summary = _(
        "Automatic hand-off: the Tier 3 budget ran out before the ticket was resolved. "
        "Please read the conversation below and post what you find."
    )
    handoff = _handoff_locked(
        ticket,
        actor=None,
        summary=summary,
        vendor=None,
        now=acted_at,
        dedupe_key=key,
        explain=ex,
        cas=CasRow(ticket, ticket.tier, deadline, ticket.status),
    )
    if handoff is None:
        report.no_vendor.append(ticket.reference)
    else:
        report.handed_off.append((ticket.reference, handoff.vendor.company))


def _fire_tier_warnings(*, now: datetime, batch: int, report: SweepReport) -> None:
    """75% of the tier budget used: one TIER_WARNING per tier visit (the dedupe key names
    the visit by ``tier_entered_at``), then ``escalation_warn_at`` is cleared."""
    tier_agents: dict[int, list] = {}
    while True:
        with transaction.atomic():
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
                .filter(escalation_warn_at__lte=now, status__in=RUNNING)
                .select_related("assignee", "owner")
                .order_by("escalation_warn_at", "pk")[:batch]
            )
            if not tickets:
                return
            keys = {
                t.pk: f"warn:{t.pk}:{t.tier}:{_iso(t.tier_entered_at) or _iso(t.created_at)}"
                for t in tickets
            }
            done = set(
                TicketEvent.objects.filter(dedupe_key__in=keys.values()).values_list(
                    "dedupe_key", flat=True
                )
            )
            events, fresh = [], []
            for t in tickets:
                if keys[t.pk] in done:
                    continue
                events.append(TicketEvent(ticket=t, **tier_warning(t, now=now, key=keys[t.pk])))
                fresh.append(t)
            tickets_update([t.pk for t in tickets], escalation_warn_at=None)
            created = events_add(events)
            bells = []
            for t, event in zip(fresh, created, strict=True):
                bells.append(
                    bell(
                        ticket=t,
                        event=event,
                        users=_responsible_users(t, tier_agents),
                        text=f"{t.reference}: escalates at {t.escalate_at:%Y-%m-%d %H:%M} UTC — {t.subject}",
                    )
                )
                report.warnings.append((t.reference, t.tier))
            bells_store(bells)
        if len(tickets) < batch:
            return


def tier_warning(ticket: Ticket, *, now: datetime, key: str) -> dict[str, Any]:
    """The TIER_WARNING event's arguments for a ticket whose warning is due (the sweep's,
    and the demo history's)."""
    rule = budget_rule_for(tier=ticket.tier, priority=ticket.priority)
    ex = explain(ticket, rule, now)
    percent = rule.warn_at_percent if rule else 75
    ex.update(tier=ticket.tier, warn_at=_iso(ticket.escalation_warn_at), percent=percent)
    ex["deadline"] = _iso(ticket.escalate_at)
    ex["lag_ms"] = int((now - ticket.escalation_warn_at).total_seconds() * 1000)
    body = _(
        "%(pct)s%% of the Tier %(tier)s budget (%(budget)s) is used; "
        "the ticket escalates at %(deadline)s."
    ) % {
        "pct": percent,
        "tier": ticket.tier,
        "budget": timedelta(seconds=ex["budget_seconds"]),
        # Read by people on the timeline (the data keeps the exact ISO value).
        "deadline": f"{ticket.escalate_at:%Y-%m-%d %H:%M} UTC" if ticket.escalate_at else "—",
    }
    return {
        "kind": Kind.TIER_WARNING,
        "actor_name": TIMER,
        "body": body,
        "data": ex,
        "dedupe_key": key,
    }
