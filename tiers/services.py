"""The escalation engine: timer promotions, warnings, the customer SLA clock and the
Tier 4 vendor hand-off.

Guarantees (``design.md``, "Escalation engine"):

* The database holds every deadline; the broker only triggers ``escalation_sweep``.
  A sweep after an outage promotes everything that came due meanwhile.
* A ticket is promoted at most once per deadline, whatever runs concurrently: rows are
  taken with ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` in short batches, each move is a
  compare-and-set ``UPDATE … WHERE id = … AND tier = … AND escalate_at <= now``, and
  the event carries ``dedupe_key = promote:<id>:<tier>:<deadline>`` (a unique index),
  so a retry, a second sweep or a manual ``ticket_escalate(expected_tier=…)`` either
  sees the new tier or fails the compare-and-set; none writes a second promotion.
* Each batch commits on its own: a worker killed mid-sweep loses only its current
  batch's uncommitted work, which the next sweep redoes.

Alerts that leave the building (vendor e-mail, manager alerts) are written as events
first and sent after commit by ``tiers.tasks.escalation_alert_send``; ``notified_at``
marks them sent and ``vendor_followup_sweep`` resends any whose task was lost.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import ConflictError, DomainError, ForbiddenError
from tickets.models import Ticket, TicketEvent
from tickets.selectors import user_can_act_on
from tickets.services import core
from tickets.services.attachments import attachment_add, validate_uploads
from tickets.services.clock import sla_points
from tickets.services.core import ticket_enter_tier, ticket_event_create
from tickets.services.notify import (
    Bell,
    bell,
    bells_store,
    send_templated_mail,
    thread_headers,
    ticket_event_send,
)
from tickets.versions import bump_tickets_version

from .business_time import add_business_time, business_time_between
from .models import VendorContact, VendorHandoff
from .selectors import (
    BudgetRule,
    agent_profile_of,
    agents_of_tier,
    budget_rule_for,
    calendar_default,
    managers,
    policies_pinned,
    sla_policy_for,
    user_is_manager,
    vendor_for_category,
)
from .tokens import new_nonce, vendor_link_path

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.core.files.uploadedfile import UploadedFile

    User = AbstractBaseUser

logger = logging.getLogger(__name__)

Kind = TicketEvent.Kind
Status = Ticket.Status
RUNNING = Ticket.CLOCK_RUNNING_STATUSES
TIMER = "escalation timer"

#: Events whose e-mail this module sends (``notified_at`` marks them sent).
ALERT_KINDS = (Kind.VENDOR_HANDOFF, Kind.SLA_BREACH, Kind.VENDOR_OVERDUE)
#: A vendor is reminded when this share of its response window has passed.
VENDOR_CHASE_AT = 0.75

# Columns the bulk promotion reads; the rest of the row (description…) stays on disk.
_SWEEP_COLUMNS = (
    "id",
    "reference",
    "subject",
    "tier",
    "status",
    "priority",
    "assignee",
    "owner",
    "category",
    "escalate_at",
    "escalation_warn_at",
    "tier_entered_at",
    "tier_budget",
    "clock_paused_at",
    "budget_remaining_at_pause",
    "warn_remaining_at_pause",
    "paused_business_time",
    "escalation_count",
    "updated_at",
    "created_at",
)


class EscalationError(DomainError):
    pass


class _CompareAndSetMissed(Exception):
    """A row did not match its expected tier/deadline: redo the batch ticket by ticket."""


@dataclass
class SweepReport:
    """What one sweep did, for the task result, the command's output and the logs."""

    now: datetime
    promoted: list[tuple[str, int, int, int]] = field(default_factory=list)
    handed_off: list[tuple[str, str]] = field(default_factory=list)
    no_vendor: list[str] = field(default_factory=list)
    warnings: list[tuple[str, int]] = field(default_factory=list)
    sla_warnings: list[tuple[str, str]] = field(default_factory=list)
    sla_breaches: list[tuple[str, str]] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def promoted_count(self) -> int:
        return len(self.promoted) + len(self.handed_off)

    def summary(self) -> dict[str, Any]:
        return {
            "promoted": len(self.promoted),
            "handed_off": len(self.handed_off),
            "no_vendor": len(self.no_vendor),
            "warnings": len(self.warnings),
            "sla_warnings": len(self.sla_warnings),
            "sla_breaches": len(self.sla_breaches),
            "duration_ms": round(self.duration_ms, 1),
        }

    def lines(self) -> list[str]:
        out = [
            f"Promoted {ref}: Tier {a} → Tier {b} ({lag} ms after its deadline)"
            for ref, a, b, lag in self.promoted
        ]
        out += [f"Handed off {ref}: Tier 3 → vendor {vendor}" for ref, vendor in self.handed_off]
        out += [
            f"No vendor covers {ref}: flagged as breached, managers alerted"
            for ref in self.no_vendor
        ]
        out += [f"Warning {ref}: Tier {tier} budget nearly used" for ref, tier in self.warnings]
        out += [
            f"SLA warning {ref}: {clock.replace('_', ' ')} target near"
            for ref, clock in self.sla_warnings
        ]
        out += [
            f"SLA breach {ref}: {clock.replace('_', ' ')} target missed"
            for ref, clock in self.sla_breaches
        ]
        return out


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(value: timedelta | None) -> int:
    return int(value.total_seconds()) if value else 0


def promote_dedupe_key(ticket_id: int, tier: int, deadline: datetime) -> str:
    return f"promote:{ticket_id}:{tier}:{deadline.isoformat()}"


def _explain(ticket: Ticket, rule: BudgetRule | None, acted_at: datetime) -> dict[str, Any]:
    """Why the timer acted: the budget that applied, the calendar, time spent/paused."""
    calendar = rule.calendar if rule else calendar_default()
    paused = ticket.paused_business_time or timedelta(0)
    spent = (
        business_time_between(calendar, ticket.tier_entered_at, acted_at) - paused
        if ticket.tier_entered_at
        else None
    )
    deadline = ticket.escalate_at
    return {
        "policy_id": rule.policy_id if rule else None,
        "budget_seconds": _seconds(ticket.tier_budget or (rule.budget if rule else None)),
        "calendar": calendar.describe(),
        "spent_seconds": _seconds(spent) if spent is not None else None,
        "paused_seconds": _seconds(paused),
        "deadline": _iso(deadline),
        "acted_at": acted_at.isoformat(),
        "lag_ms": int((acted_at - deadline).total_seconds() * 1000) if deadline else None,
    }


def _explain_text(from_tier: int, to_text: str, ex: dict[str, Any]) -> str:
    policy = f"policy #{ex['policy_id']}" if ex["policy_id"] else "built-in default budget"
    return (
        f"Tier {from_tier} budget of {timedelta(seconds=ex['budget_seconds'])} exceeded "
        f"({policy}, calendar {ex['calendar']}): "
        f"{timedelta(seconds=ex['spent_seconds'] or 0)} business time spent, "
        f"{timedelta(seconds=ex['paused_seconds'])} paused. Deadline {ex['deadline']}; "
        f"{to_text} at {ex['acted_at']} ({ex['lag_ms']} ms later)."
    )


def _enqueue_after_commit(task_name: str, **kwargs: Any) -> None:
    """Queue a task after commit; a broker outage is logged, never raised: the
    database keeps what must be sent and the periodic flushes resend it."""
    from . import tasks

    task = getattr(tasks, task_name)

    def send() -> None:
        try:
            task.delay(**kwargs)
        except Exception:
            logger.warning("could not queue %s; the periodic flush will retry", task_name)

    transaction.on_commit(send)


def _insert_events(events: list[TicketEvent]) -> list[TicketEvent]:
    """Insert a batch of new events in one statement; like ``bulk_create``, each object
    gets its ``pk`` and ``created_at``.

    The columns travel as arrays to ``INSERT … SELECT FROM unnest(…)``: ``bulk_create``
    prepares every field of every object in Python (~0.1 ms per event, a fifth of the
    sweep's Python time per promotion). Only the columns the sweep sets are written; the
    others take their defaults (no actor, not yet notified)."""
    if not events or any(e.actor_id is not None or e.notified_at is not None for e in events):
        return TicketEvent.objects.bulk_create(events)
    now = timezone.now()
    columns = [
        ("ticket_id", "bigint", [e.ticket_id for e in events]),
        ("kind", "text", [e.kind for e in events]),
        ("actor_name", "text", [e.actor_name for e in events]),
        ("body", "text", [e.body for e in events]),
        ("is_public", "boolean", [e.is_public for e in events]),
        ("data", "jsonb", [json.dumps(e.data) for e in events]),
        ("dedupe_key", "text", [e.dedupe_key for e in events]),
        ("notify", "boolean", [e.notify for e in events]),
    ]
    names = ", ".join(name for name, _type, _values in columns)
    arrays = ", ".join(f"%s::{sql_type}[]" for _name, sql_type, _values in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO tickets_ticketevent (created_at, {names}) "  # noqa: S608 - fixed names
            f"SELECT %s, * FROM unnest({arrays}) RETURNING id",
            [now, *(values for _name, _type, values in columns)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    # unnest() keeps the order of its arrays and RETURNING that of the rows inserted
    # (what Django's own bulk_create relies on for PostgreSQL).
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
        event.created_at = now
        event._state.adding = False
        event._state.db = connection.alias
    return events


def _run_event_hooks(events: Sequence[TicketEvent]) -> None:
    """Bulk-created events skip ticket_event_create; integrations still hear of them,
    after commit, in one callback per batch. A hook that offers ``for_many`` (webhooks)
    gets the whole batch in one call; a failing hook is logged and does not stop the
    others or the sweep."""
    hooks = list(core.EVENT_HOOKS)
    if not hooks or not events:
        return
    batch = list(events)

    def call(hook: Any, arg: Any) -> None:
        try:
            hook(arg)
        except Exception:
            logger.exception("event hook %r failed", hook)

    def run() -> None:
        for hook in hooks:
            many = getattr(hook, "for_many", None)
            if many is not None:
                call(many, batch)
            else:
                for event in batch:
                    call(hook, event)

    transaction.on_commit(run)


def _notify_in_app(*, ticket: Ticket, event: TicketEvent, users: Iterable, text: str) -> None:
    bells_store([bell(ticket=ticket, event=event, users=users, text=text)])


def _responsible_users(ticket: Ticket, tier_agents: dict[int, list]) -> list:
    """Who hears of a warning: the assignee/owner, else every agent of the tier."""
    users = [u for u in (ticket.assignee, ticket.owner) if u is not None]
    if users:
        return users
    if ticket.tier not in tier_agents:
        tier_agents[ticket.tier] = [p.user for p in agents_of_tier(tier=min(ticket.tier, 3))]
    return tier_agents[ticket.tier]


def _cas_update(ticket: Ticket, *, from_tier: int, now: datetime, fields: Sequence[str]) -> bool:
    """Write ``fields`` only if the row is still at ``from_tier`` and overdue."""
    values = {name: getattr(ticket, name) for name in set(fields)}
    bump_tickets_version()  # cached queue rows (tickets/versions.py); update() has no signal
    return bool(
        Ticket.objects.filter(
            pk=ticket.pk, tier=from_tier, escalate_at__lte=now, status__in=RUNNING
        ).update(**values)
    )


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


def _promotion(
    ticket: Ticket, *, acted_at: datetime
) -> tuple[list[str], dict[str, Any], tuple[str, int, int, int]]:
    """Move a locked, overdue ticket (Tier 1-2) up one tier in memory. Returns the
    fields to write, the PROMOTED event's arguments, and the report line; the bulk and
    the one-by-one paths write them their own way."""
    from_tier, deadline = ticket.tier, ticket.escalate_at
    ex = _explain(ticket, budget_rule_for(tier=from_tier, priority=ticket.priority), acted_at)
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
    cas_rows: list[_CasRow] = []
    events: list[TicketEvent] = []
    promoted: list[tuple[str, int, int, int]] = []
    fields: list[str] = []
    vendor_bound: list[int] = []
    for ticket in tickets:
        if ticket.tier >= 3:
            vendor_bound.append(ticket.pk)
            continue
        from_tier, deadline, from_status = ticket.tier, ticket.escalate_at, ticket.status
        fields, event, line = _promotion(ticket, acted_at=acted_at)
        cas_rows.append(_CasRow(ticket, from_tier, deadline, from_status))
        events.append(TicketEvent(ticket=ticket, **event))
        promoted.append(line)
    if events:
        update_fields = sorted({*fields, "escalation_count"})
        _bulk_compare_and_set(cas_rows, fields=update_fields, now=now)
        created = _insert_events(events)
        # One task per batch rather than per event keeps the broker off the hot path.
        _enqueue_after_commit("events_notify", event_ids=[e.pk for e in created])
        _run_event_hooks(created)
    for ticket_id in vendor_bound:
        _promote_one(ticket_id, now=now, acted_at=acted_at, report=report)
    report.promoted.extend(promoted)


@dataclass(frozen=True)
class _CasRow:
    """A locked ticket with its new values set, and what the sweep read before."""

    ticket: Ticket
    from_tier: int
    from_deadline: datetime
    from_status: str


def _bulk_compare_and_set(rows: list[_CasRow], *, fields: Sequence[str], now: datetime) -> None:
    """One compare-and-set UPDATE for many rows: each row is written only while it still
    holds the tier, deadline and status the sweep read under its lock (``UPDATE … FROM
    (VALUES …) v WHERE t.id = v.id AND t.tier = v.from_tier AND t.escalate_at =
    v.from_deadline AND t.status = v.from_status``). Raises if any row did not match.

    The compared values travel in the VALUES list, so they are join clauses, and the
    only restriction on ``t`` is ``t.id = ANY(ids)``: the planner can only probe the
    primary key. With the old constant ``escalate_at <= now AND status IN (…)`` it
    planned a bitmap scan of every overdue live ticket instead, which also walks the
    dead index entries of the batches already promoted in this sweep (not yet vacuumed)
    — a cost growing with each batch: ~400 ms per 500-ticket batch by the 10th batch
    at 1,000,000 tickets, and a nested loop comparing 500 × 500 VALUES rows.

    A single statement: Django's ``bulk_update`` builds a CASE per column and row, which
    costs ~6 ms of Python per ticket."""
    if any(row.from_deadline > now or row.from_status not in RUNNING for row in rows):
        raise _CompareAndSetMissed  # read under the sweep's filter: cannot happen
    meta = Ticket._meta
    qn = connection.ops.quote_name
    model_fields = [meta.get_field(name) for name in fields]
    casts = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in model_fields)
    values_sql = ", ".join(
        f"(%s::bigint, %s::smallint, %s::timestamptz, %s::text, {casts})" for _ in rows
    )
    params: list[Any] = []
    for row in rows:
        params += [row.ticket.pk, row.from_tier, row.from_deadline, row.from_status]
        # psycopg2 adapts these column types (int, text, timestamptz, interval) directly.
        params += [getattr(row.ticket, f.attname) for f in model_fields]
    columns = ", ".join(qn(f.column) for f in model_fields)
    assignments = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in model_fields)
    # Identifiers come from the model's metadata and every value is a parameter.
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM (VALUES {values_sql}) AS v(id, from_tier, from_deadline, from_status, {columns}) "
        # ``t.id = ANY(…)`` lets the planner probe the primary key instead of hashing
        # the whole table against the VALUES list.
        "WHERE t.id = ANY(%s) AND t.id = v.id AND t.tier = v.from_tier "
        "AND t.escalate_at = v.from_deadline AND t.status = v.from_status RETURNING t.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, [row.ticket.pk for row in rows]])
        matched = len(cursor.fetchall())
    bump_tickets_version()  # cached queue rows (tickets/versions.py), after commit
    if matched != len(rows):
        raise _CompareAndSetMissed


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
            from_tier = ticket.tier
            fields, event, line = _promotion(ticket, acted_at=acted_at)
            if not _cas_update(
                ticket, from_tier=from_tier, now=now, fields=[*fields, "escalation_count"]
            ):
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
    ex = _explain(ticket, budget_rule_for(tier=ticket.tier, priority=ticket.priority), acted_at)
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
        cas_now=now,
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
                rule = budget_rule_for(tier=t.tier, priority=t.priority)
                ex = _explain(t, rule, now)
                percent = rule.warn_at_percent if rule else 75
                ex.update(tier=t.tier, warn_at=_iso(t.escalation_warn_at), percent=percent)
                ex["deadline"] = _iso(t.escalate_at)
                ex["lag_ms"] = int((now - t.escalation_warn_at).total_seconds() * 1000)
                events.append(
                    TicketEvent(
                        ticket=t,
                        kind=Kind.TIER_WARNING,
                        actor_name=TIMER,
                        body=_(
                            "%(pct)s%% of the Tier %(tier)s budget (%(budget)s) is used; "
                            "the ticket escalates at %(deadline)s."
                        )
                        % {
                            "pct": percent,
                            "tier": t.tier,
                            "budget": timedelta(seconds=ex["budget_seconds"]),
                            "deadline": ex["deadline"],
                        },
                        data=ex,
                        dedupe_key=keys[t.pk],
                    )
                )
                fresh.append(t)
            Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(escalation_warn_at=None)
            created = TicketEvent.objects.bulk_create(events)
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
            _run_event_hooks(created)
        if len(tickets) < batch:
            return


# ---------------------------------------------------------------------------
# Customer SLA checkpoints
# ---------------------------------------------------------------------------


def sla_checkpoints(ticket: Ticket, *, now: datetime) -> list[tuple[datetime, str, str, datetime]]:
    """The customer-SLA checkpoints of a ticket as ``(at, kind, clock, due)``.

    How ``sla_warn_at`` moves: it always holds the earliest checkpoint still ahead.
    The checkpoints, from the ticket's SLA targets (set by ``clock.sla_start``):

    * first response (only while nobody has answered): a *warning* when
      ``warn_at_percent`` of the first-response target has passed since the ticket was
      opened, and a *breach* at ``first_response_due``;
    * resolution: a *warning* at ``warn_at_percent`` of the resolution target, and a
      *breach* at ``resolution_due``.

    When ``sla_warn_at`` comes due, the sweep writes an event for every checkpoint that
    has passed (a warning is skipped once its own breach has passed too), each with a
    dedupe key naming the clock, the kind and the due time, so each fires once even
    after a reopen; the first breach sets ``sla_breached_at``. Then ``sla_warn_at``
    moves to the next checkpoint in the future, or NULL when none is left.
    """
    # Inside the sweep the policies memo is pinned: no query, no cache round trip.
    policy, calendar = sla_policy_for(priority=ticket.priority)
    return sla_points(ticket, now=now, policy=policy, calendar=calendar)


def _fire_sla_checkpoints(*, now: datetime, batch: int, report: SweepReport) -> None:
    tier_agents: dict[int, list] = {}
    while True:
        with transaction.atomic():
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
                .select_related("assignee", "owner")
                .filter(sla_warn_at__lte=now, status__in=Ticket.ACTIVE_STATUSES)
                .order_by("sla_warn_at", "pk")[:batch]
            )
            bells: list[Bell] = []
            for ticket in tickets:
                _sla_checkpoint(
                    ticket, now=now, report=report, tier_agents=tier_agents, bells=bells
                )
            bells_store(bells)
        if len(tickets) < batch:
            return


def _sla_checkpoint(
    ticket: Ticket,
    *,
    now: datetime,
    report: SweepReport,
    tier_agents: dict[int, list],
    bells: list[Bell],
) -> None:
    """Fire a ticket's passed checkpoints; its bells join ``bells`` (stored per batch)."""
    points = sla_checkpoints(ticket, now=now)
    passed = [p for p in points if p[0] <= now]
    breached_clocks = {clock for _at, kind, clock, _due in passed if kind == "breach"}
    wanted = {
        f"sla:{clock}:{kind}:{ticket.pk}:{due.isoformat()}": (kind, clock, due)
        for _at, kind, clock, due in passed
        if kind == "breach" or clock not in breached_clocks
    }
    done = set(
        TicketEvent.objects.filter(dedupe_key__in=wanted).values_list("dedupe_key", flat=True)
    )
    fields = ["sla_warn_at"]
    for key, (kind, clock, due) in wanted.items():
        if key in done:
            continue
        label = _("first response") if clock == "first_response" else _("resolution")
        data = {"clock": clock, "due": due.isoformat(), "acted_at": now.isoformat()}
        if kind == "breach":
            if ticket.sla_breached_at is None:
                ticket.sla_breached_at = now
                fields.append("sla_breached_at")
            event = ticket_event_create(
                ticket=ticket,
                kind=Kind.SLA_BREACH,
                actor_name=TIMER,
                body=_("The customer's %(label)s target (%(due)s) was missed.")
                % {"label": label, "due": due.isoformat()},
                data={**data, "reason": "target_missed"},
                dedupe_key=key,
            )
            _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
            report.sla_breaches.append((ticket.reference, clock))
        else:
            event = ticket_event_create(
                ticket=ticket,
                kind=Kind.SLA_WARNING,
                actor_name=TIMER,
                body=_("The customer's %(label)s target is due at %(due)s.")
                % {"label": label, "due": due.isoformat()},
                data=data,
                dedupe_key=key,
            )
            report.sla_warnings.append((ticket.reference, clock))
        bells.append(
            bell(
                ticket=ticket,
                event=event,
                users=_responsible_users(ticket, tier_agents),
                text=f"{ticket.reference}: {event.get_kind_display()} ({label}) — {ticket.subject}",
            )
        )
    ticket.sla_warn_at = min((p[0] for p in points if p[0] > now), default=None)
    Ticket.objects.filter(pk=ticket.pk).update(**{f: getattr(ticket, f) for f in fields})
    bump_tickets_version()  # the queue's SLA filter reads these (tickets/versions.py)


# ---------------------------------------------------------------------------
# Tier 4: vendor hand-off
# ---------------------------------------------------------------------------


def _accountable_owner(ticket: Ticket, actor: User | None) -> User | None:
    """The Tier 3 person who stays accountable: the acting Tier 3 agent or manager, else
    the last Tier 3 assignee, else a manager."""
    for candidate in (actor, ticket.assignee):
        profile = agent_profile_of(candidate) if candidate is not None else None
        if profile is not None and (profile.tier >= 3 or profile.is_manager):
            return candidate
    usernames = [
        e.data.get("assignee")
        for e in ticket.events.filter(kind=Kind.ASSIGNED).order_by("-created_at", "-id")[:20]
        if isinstance(e.data, dict) and e.data.get("assignee")
    ]
    if usernames:
        users = {
            u.get_username(): u
            for u in get_user_model().objects.filter(
                username__in=usernames,
                agent_profile__is_active=True,
                agent_profile__tier__gte=3,
            )
        }
        for name in usernames:
            if name in users:
                return users[name]
    first_manager = managers().order_by("id").first()
    return first_manager.user if first_manager else None


def _write_handoff_ticket(
    ticket: Ticket, *, from_tier: int, fields: Sequence[str], cas_now: datetime | None
) -> None:
    """Save ``fields`` of a locked ticket: by compare-and-set for the timer (``cas_now``;
    raises when the row moved), a plain save for a person."""
    if cas_now is None:
        ticket.save(update_fields=sorted(set(fields)))
    elif not _cas_update(ticket, from_tier=from_tier, now=cas_now, fields=fields):
        raise _CompareAndSetMissed


def _flag_no_vendor(
    ticket: Ticket,
    *,
    actor: User | None,
    now: datetime,
    dedupe_key: str,
    explain: dict[str, Any] | None,
    cas_now: datetime | None,
) -> TicketEvent | None:
    """No vendor covers the category: flag the ticket as breached and alert managers."""
    if TicketEvent.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    fields = ["updated_at"]
    if ticket.sla_breached_at is None:
        ticket.sla_breached_at = now
        fields.append("sla_breached_at")
    if cas_now is not None:
        # The timer stops here: a person has to decide; leaving the deadline in the
        # past would re-alert every second.
        core.clock.clock_stop(ticket)
        fields.extend(core.clock.CLOCK_FIELDS)
        ticket.updated_at = now
    _write_handoff_ticket(ticket, from_tier=ticket.tier, fields=fields, cas_now=cas_now)
    event = ticket_event_create(
        ticket=ticket,
        kind=Kind.SLA_BREACH,
        actor=actor,
        actor_name="" if actor else TIMER,
        body=_(
            "No vendor covers the category %(category)s, so the ticket cannot go to Tier 4. "
            "Flagged as breached; the managers have been alerted."
        )
        % {"category": ticket.category.name},
        data={"reason": "no_vendor", "category_id": ticket.category_id, **(explain or {})},
        dedupe_key=dedupe_key,
    )
    _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
    return event


def _handoff_locked(
    ticket: Ticket,
    *,
    actor: User | None,
    summary: str,
    vendor: VendorContact | None,
    now: datetime,
    dedupe_key: str | None,
    explain: dict[str, Any] | None = None,
    cas_now: datetime | None = None,
) -> VendorHandoff | None:
    """Hand a locked Tier 3 ticket to a vendor. With ``cas_now`` (the timer) the ticket
    row is written by compare-and-set. Returns ``None`` when no vendor covers it."""
    vendor = vendor or vendor_for_category(category_id=ticket.category_id)
    if vendor is None:
        _flag_no_vendor(
            ticket,
            actor=actor,
            now=now,
            explain=explain,
            cas_now=cas_now,
            dedupe_key=dedupe_key or f"novendor:{ticket.pk}:{_iso(ticket.tier_entered_at)}",
        )
        return None
    owner = _accountable_owner(ticket, actor)
    calendar = calendar_default()
    handoff = VendorHandoff.objects.create(
        ticket=ticket,
        vendor=vendor,
        owner=owner,
        nonce=new_nonce(),
        summary=summary.strip(),
        expires_at=now + timedelta(days=settings.VENDOR_LINK_MAX_AGE_DAYS),
        respond_by=add_business_time(calendar, now, vendor.response_target),
        resolve_by=add_business_time(calendar, now, vendor.resolution_target),
    )
    from_tier = ticket.tier
    fields = ticket_enter_tier(ticket, tier=4, now=now)
    ticket.status = Status.PENDING_VENDOR
    ticket.owner = owner
    ticket.escalation_count += 1
    ticket.updated_at = now
    fields = [*fields, "status", "owner", "escalation_count"]
    _write_handoff_ticket(ticket, from_tier=from_tier, fields=fields, cas_now=cas_now)
    event = ticket_event_create(
        ticket=ticket,
        kind=Kind.VENDOR_HANDOFF,
        actor=actor,
        actor_name="" if actor else TIMER,
        body=(
            _explain_text(from_tier, f"handed to {vendor.company}", explain) + "\n\n"
            if explain
            else ""
        )
        + summary.strip(),
        data={
            "from_tier": from_tier,
            "to_tier": 4,
            "handoff_id": handoff.pk,
            "vendor": f"{vendor.name} ({vendor.company})",
            "vendor_id": vendor.pk,
            "owner": owner.get_username() if owner else None,
            "respond_by": handoff.respond_by.isoformat(),
            "resolve_by": handoff.resolve_by.isoformat(),
            "manual": actor is not None,
            **(explain or {}),
        },
        dedupe_key=dedupe_key,
    )
    _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
    return handoff


def _require_tier3_or_manager(*, user: User, ticket: Ticket) -> None:
    profile = agent_profile_of(user)
    allowed = user_is_manager(user) or (
        profile is not None and profile.tier >= 3 and user_can_act_on(user=user, ticket=ticket)
    )
    if not allowed:
        raise ForbiddenError(_("Only Tier 3 agents and managers hand tickets to a vendor."))


def vendor_handoff(
    *, ticket: Ticket, actor: User, summary: str, vendor: VendorContact | None = None
) -> VendorHandoff:
    """A Tier 3 agent (or manager) hands the ticket to the vendor covering its category.

    The ticket goes to Tier 4 / ``pending_vendor`` with ``actor`` (or the last Tier 3
    assignee) as accountable owner; the vendor is e-mailed a signed link after commit.
    With no covering vendor the ticket is flagged as breached, the managers are alerted,
    and ``EscalationError`` tells the agent so.
    """
    _require_tier3_or_manager(user=actor, ticket=ticket)
    if not (summary or "").strip():
        raise EscalationError(_("Write a hand-off summary for the vendor."), field="summary")
    if len(summary) > 10000:
        raise EscalationError(_("Keep the summary under 10,000 characters."), field="summary")
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(no_key=True, of=("self",))
            .select_related("category", "assignee")
            .get(pk=ticket.pk)
        )
        if ticket.status in Ticket.DONE_STATUSES:
            raise EscalationError(_("%(ref)s is already resolved.") % {"ref": ticket.reference})
        if ticket.tier == 4 or ticket.status == Status.PENDING_VENDOR:
            raise ConflictError(_("%(ref)s is already with a vendor.") % {"ref": ticket.reference})
        if ticket.tier != 3:
            raise EscalationError(_("Only Tier 3 tickets are handed to a vendor."))
        handoff = _handoff_locked(
            ticket,
            actor=actor,
            summary=summary,
            vendor=vendor,
            now=timezone.now(),
            dedupe_key=None,
        )
    if handoff is None:
        raise EscalationError(
            _(
                "No vendor covers %(category)s. The ticket is flagged as breached and the "
                "managers have been alerted."
            )
            % {"category": ticket.category.name}
        )
    return handoff


def _back_to_tier3(ticket: Ticket, *, owner: User | None, now: datetime) -> list[str]:
    """The vendor's part is over: Tier 3 again, open, with the owner working it."""
    fields = ticket_enter_tier(ticket, tier=3, now=now)
    ticket.status = Status.OPEN
    ticket.assignee = owner
    return [*fields, "status", "assignee"]


def vendor_handoff_revoke(*, handoff: VendorHandoff, actor: User) -> VendorHandoff:
    """Revoke a hand-off's link (leaked, wrong vendor). A hand-off still in progress is
    withdrawn: the ticket returns to Tier 3 with its owner. Idempotent."""
    ticket = handoff.ticket
    if not (user_is_manager(actor) or handoff.owner_id == actor.pk):
        _require_tier3_or_manager(user=actor, ticket=ticket)
    with transaction.atomic():
        handoff = (
            VendorHandoff.objects.select_for_update(of=("self",))
            .select_related("vendor")
            .get(pk=handoff.pk)
        )
        if handoff.revoked_at is not None:
            return handoff
        now = timezone.now()
        handoff.revoked_at = now
        handoff.save(update_fields=["revoked_at", "updated_at"])
        ticket = Ticket.objects.select_for_update(no_key=True).get(pk=handoff.ticket_id)
        withdrawn = (
            handoff.done_at is None
            and ticket.tier == 4
            and ticket.status == Status.PENDING_VENDOR
            and not ticket.vendor_handoffs.filter(revoked_at__isnull=True, done_at__isnull=True)
            .exclude(pk=handoff.pk)
            .exists()
        )
        if withdrawn:
            fields = _back_to_tier3(ticket, owner=handoff.owner, now=now)
            ticket.save(update_fields=sorted(set(fields)))
        ticket_event_create(
            ticket=ticket,
            kind=Kind.STATUS,
            actor=actor,
            body=_("Vendor link for %(vendor)s revoked.") % {"vendor": handoff.vendor.company}
            + (" " + _("The ticket is back at Tier 3.") if withdrawn else ""),
            data={
                "handoff_id": handoff.pk,
                "handoff_revoked": True,
                "from": Status.PENDING_VENDOR if withdrawn else ticket.status,
                "to": ticket.status,
            },
        )
    return handoff


def _vendor_name(handoff: VendorHandoff) -> str:
    return f"{handoff.vendor.name} ({handoff.vendor.company})"[:120]


def _lock_open_handoff(handoff: VendorHandoff) -> tuple[VendorHandoff, Ticket]:
    handoff = (
        VendorHandoff.objects.select_for_update(of=("self",))
        .select_related("vendor", "owner")
        .get(pk=handoff.pk)
    )
    ticket = Ticket.objects.select_for_update(no_key=True).get(pk=handoff.ticket_id)
    if handoff.revoked_at is not None:
        raise ForbiddenError(_("This vendor link has been revoked."))
    if handoff.done_at is not None or ticket.status in Ticket.DONE_STATUSES:
        raise ConflictError(_("This hand-off is finished; updates are closed."))
    return handoff, ticket


def _record_vendor_response(handoff: VendorHandoff, now: datetime, fields: list[str]) -> None:
    if handoff.first_response_at is None:
        handoff.first_response_at = now
        handoff.response_time = now - handoff.created_at
        fields += ["first_response_at", "response_time"]


def vendor_post_update(
    *,
    handoff: VendorHandoff,
    body: str,
    vendor_reference: str = "",
    uploads: Sequence[UploadedFile] = (),
) -> TicketEvent:
    """The vendor posts an update (and files, and its own ticket number) on its page."""
    body = (body or "").strip()
    vendor_reference = (vendor_reference or "").strip()[:80]
    if not body and not uploads:
        raise EscalationError(_("Write an update or attach a file."), field="body")
    validate_uploads(list(uploads))  # all checked before anything is written
    with transaction.atomic():
        handoff, ticket = _lock_open_handoff(handoff)
        now = timezone.now()
        fields = ["updated_at"]
        _record_vendor_response(handoff, now, fields)
        if vendor_reference and vendor_reference != handoff.vendor_reference:
            handoff.vendor_reference = vendor_reference
            fields.append("vendor_reference")
        handoff.save(update_fields=fields)
        event = ticket_event_create(
            ticket=ticket,
            kind=Kind.VENDOR_UPDATE,
            actor_name=_vendor_name(handoff),
            body=body,
            data={"handoff_id": handoff.pk, "vendor_reference": handoff.vendor_reference},
        )
        for upload in uploads:
            attachment_add(
                ticket=ticket,
                upload=upload,
                event=event,
                uploaded_by_name=handoff.vendor.name,
                is_public=False,
            )
        _notify_in_app(
            ticket=ticket,
            event=event,
            users=[handoff.owner],
            text=f"{ticket.reference}: update from {handoff.vendor.company}",
        )
    return event


def vendor_mark_done(*, handoff: VendorHandoff, note: str = "") -> Ticket:
    """ "Mark our part done": the ticket returns to Tier 3, open, with its owner."""
    with transaction.atomic():
        handoff, ticket = _lock_open_handoff(handoff)
        now = timezone.now()
        fields = ["done_at", "resolution_time", "updated_at"]
        _record_vendor_response(handoff, now, fields)
        handoff.done_at = now
        handoff.resolution_time = now - handoff.created_at
        handoff.save(update_fields=fields)
        ticket_fields = _back_to_tier3(ticket, owner=handoff.owner, now=now)
        ticket.save(update_fields=sorted(set(ticket_fields)))
        event = ticket_event_create(
            ticket=ticket,
            kind=Kind.VENDOR_DONE,
            actor_name=_vendor_name(handoff),
            body=(note or "").strip()
            or _("%(vendor)s marked its part done.") % {"vendor": handoff.vendor.company},
            data={
                "handoff_id": handoff.pk,
                "vendor_reference": handoff.vendor_reference,
                "response_seconds": _seconds(handoff.response_time),
                "resolution_seconds": _seconds(handoff.resolution_time),
                "owner": handoff.owner.get_username() if handoff.owner else None,
            },
        )
        _notify_in_app(
            ticket=ticket,
            event=event,
            users=[handoff.owner],
            text=f"{ticket.reference}: {handoff.vendor.company} marked its part done",
        )
    return ticket


# ---------------------------------------------------------------------------
# Vendor follow-up: chase reminders, overdue alerts, lost alerts
# ---------------------------------------------------------------------------


@dataclass
class FollowupReport:
    chased: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    alerts_resent: int = 0

    def lines(self) -> list[str]:
        return [f"Reminded the vendor of {ref}" for ref in self.chased] + [
            f"Vendor overdue on {ref}: managers alerted" for ref in self.overdue
        ]


def vendor_followup_sweep(*, now: datetime | None = None) -> FollowupReport:
    """Remind vendors before their response target passes (once, at 75% of the window)
    and alert the managers once when a vendor misses its response or resolution target."""
    now = now or timezone.now()
    report = FollowupReport()
    open_handoffs = VendorHandoff.objects.filter(revoked_at__isnull=True, done_at__isnull=True)
    with transaction.atomic():
        for handoff in (
            open_handoffs.select_for_update(skip_locked=True, of=("self",))
            .select_related("vendor", "ticket")
            .filter(first_response_at__isnull=True, chased_at__isnull=True, respond_by__gt=now)
        ):
            window = handoff.respond_by - handoff.created_at
            if now < handoff.created_at + window * VENDOR_CHASE_AT:
                continue
            handoff.chased_at = now
            handoff.save(update_fields=["chased_at", "updated_at"])
            report.chased.append(handoff.ticket.reference)
            _enqueue_after_commit("vendor_chase_send", handoff_id=handoff.pk)
    with transaction.atomic():
        for handoff in (
            open_handoffs.select_for_update(skip_locked=True, of=("self",))
            .select_related("vendor", "ticket")
            .filter(overdue_alerted_at__isnull=True)
            .filter(Q(first_response_at__isnull=True, respond_by__lte=now) | Q(resolve_by__lte=now))
        ):
            missed = "response" if handoff.first_response_at is None else "resolution"
            due = handoff.respond_by if missed == "response" else handoff.resolve_by
            handoff.overdue_alerted_at = now
            handoff.save(update_fields=["overdue_alerted_at", "updated_at"])
            event = ticket_event_create(
                ticket=handoff.ticket,
                kind=Kind.VENDOR_OVERDUE,
                actor_name=TIMER,
                body=_("%(vendor)s missed its %(what)s target (%(due)s).")
                % {"vendor": handoff.vendor.company, "what": missed, "due": due.isoformat()},
                data={"handoff_id": handoff.pk, "missed": missed, "due": due.isoformat()},
                dedupe_key=f"vendor-overdue:{handoff.pk}",
            )
            _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
            report.overdue.append(handoff.ticket.reference)
    for event_id in alerts_pending_ids(now=now):
        report.alerts_resent += escalation_alert_send(event_id=event_id)
    return report


def alerts_pending_ids(
    *, now: datetime, older_than: timedelta = timedelta(seconds=30)
) -> list[int]:
    """Alert events whose send task never ran (broker down when they were written)."""
    return list(
        TicketEvent.objects.filter(
            kind__in=ALERT_KINDS,
            notified_at__isnull=True,
            created_at__lte=now - older_than,
            created_at__gte=now - timedelta(days=7),
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:200]
    )


def _vendor_mail_context(handoff: VendorHandoff) -> dict[str, Any]:
    return {
        "handoff": handoff,
        "vendor": handoff.vendor,
        "ticket": handoff.ticket,
        "link": settings.SITE_URL + vendor_link_path(handoff),
        "owner": handoff.owner,
    }


def escalation_alert_send(*, event_id: int) -> int:
    """Send the e-mail of a vendor hand-off or a manager alert, at most once."""
    with transaction.atomic():
        event = (
            TicketEvent.objects.select_for_update(of=("self",))
            .select_related("ticket", "ticket__category")
            .filter(pk=event_id, kind__in=ALERT_KINDS)
            .first()
        )
        if event is None or event.notified_at is not None:
            return 0
        ticket = event.ticket
        sent = 0
        if event.kind == Kind.VENDOR_HANDOFF:
            handoff = (
                VendorHandoff.objects.select_related("vendor", "owner", "ticket")
                .filter(pk=event.data.get("handoff_id"))
                .first()
            )
            if handoff is not None and handoff.revoked_at is None:
                send_templated_mail(
                    to=[handoff.vendor.email],
                    subject=f"[{ticket.reference}] Hand-off from Tierdesk: {ticket.subject}",
                    template="vendor_handoff",
                    context=_vendor_mail_context(handoff),
                    # The vendor's reply comes back as a vendor update (emailchannel).
                    headers=thread_headers(audience="v", object_id=handoff.pk),
                )
                _notify_in_app(
                    ticket=ticket,
                    event=event,
                    users=[handoff.owner],
                    text=f"{ticket.reference}: handed to {handoff.vendor.company}; you stay accountable",
                )
                sent = 1
        else:
            staff = [p.user for p in managers()]
            emails = sorted(
                {u.email for u in staff if u.email} | set(settings.MANAGER_ALERT_EMAILS)
            )
            send_templated_mail(
                to=emails,
                subject=f"[{ticket.reference}] {event.get_kind_display()}: {ticket.subject}",
                template="manager_alert",
                context={
                    "event": event,
                    "ticket": ticket,
                    "agent_url": settings.SITE_URL + ticket.get_absolute_url(),
                },
                headers=thread_headers(
                    audience="s", object_id=ticket.pk, event_id=event.pk, auto="auto-generated"
                ),
            )
            _notify_in_app(
                ticket=ticket,
                event=event,
                users=staff,
                text=f"{ticket.reference}: {event.get_kind_display()} — {ticket.subject}",
            )
            sent = len(emails)
        event.notified_at = timezone.now()
        event.save(update_fields=["notified_at"])
        return sent


def vendor_chase_send(*, handoff_id: int) -> int:
    handoff = (
        VendorHandoff.objects.select_related("vendor", "owner", "ticket")
        .filter(pk=handoff_id, revoked_at__isnull=True, done_at__isnull=True)
        .first()
    )
    if handoff is None or handoff.first_response_at is not None:
        return 0
    ticket = handoff.ticket
    send_templated_mail(
        to=[handoff.vendor.email],
        subject=f"[{ticket.reference}] Reminder: response due {handoff.respond_by:%Y-%m-%d %H:%M} UTC",
        template="vendor_chase",
        context=_vendor_mail_context(handoff),
        headers=thread_headers(
            audience="v", object_id=handoff.pk, event_id=handoff.pk, auto="auto-generated"
        ),
    )
    return 1


def events_notify(
    *, event_ids: Sequence[int], time_budget: float | None = None
) -> tuple[int, list[int]]:
    """Send the notifications of a batch of timer events (one task per sweep batch).

    With ``time_budget`` (seconds) it stops when the budget is spent and returns the
    ids still to send, so the task can queue them again: a worker process is never held
    for long by e-mail while an escalation sweep waits for it.
    """
    started = time.monotonic()
    sent = 0
    ids = list(event_ids)
    for index, pk in enumerate(ids):
        if time_budget is not None and index and time.monotonic() - started > time_budget:
            return sent, ids[index:]
        sent += ticket_event_send(event_id=pk)
    return sent, []


_REFERENCE_IN_SUBJECT = re.compile(r"\bTD-\d{6,}\b")


def vendor_handoff_for_reply(*, subject: str, sender: str) -> VendorHandoff | None:
    """The open hand-off a vendor's e-mail reply belongs to (``emailchannel.routing``,
    when the reply lost our signed reply address).

    Recognised by our ticket reference (``[TD-000123]``, kept in the subjects we send)
    or by the vendor's own ticket number, and only when the sender is that vendor's
    contact address: anyone else's mail is not a vendor update.
    """
    sender = (sender or "").strip().lower()
    if not sender:
        return None
    handoffs = VendorHandoff.objects.select_related("vendor", "ticket").filter(
        revoked_at__isnull=True, done_at__isnull=True, vendor__email__iexact=sender
    )
    match = _REFERENCE_IN_SUBJECT.search(subject or "")
    if match:
        found = handoffs.filter(ticket__reference=match.group(0)).order_by("-created_at").first()
        if found is not None:
            return found
    for handoff in handoffs.exclude(vendor_reference="").order_by("-created_at")[:200]:
        if re.search(rf"(?<!\w){re.escape(handoff.vendor_reference)}(?!\w)", subject or ""):
            return handoff
    return None
