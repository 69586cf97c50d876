"""The one write path for ticket events and tier moves.

Every ``TicketEvent`` is written by ``events_add`` (``ticket_event_create`` for one):
the portal, the agent actions, the API, uploads and the escalation sweep all call it.
It inserts the rows (one statement for a batch), queues the notifications and bumps
the ticket cache counter; after the commit it runs every hook of ``EVENT_HOOKS``
once per batch. Ticket rows moved without ``save()`` (the sweep's batches) go through
``tickets_compare_and_set``, which bumps the counter too.

**The after-commit hook point** is ``EVENT_HOOKS``: a callable appended there is
called with each committed event (or, if it has a ``for_many`` attribute, that is
called once with the whole batch). A rolled-back write calls nothing; a failing hook
is logged and does not stop the others. Webhooks register here
(``integrations/apps.py``); so can live updates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from helpdesk import cache

from ..models import Ticket, TicketEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

#: Called after commit for every event (see the module docstring).
EVENT_HOOKS: list[Callable[..., Any]] = []
#: Called inside the writer's transaction right after one event is written by
#: ``ticket_event_create``, with the locked ticket the service is changing
#: (``automation`` runs its rules here). A batch (the sweep's) holds tickets whose rows
#: it moved with compare-and-set, older in memory than in the database: for those a
#: hook's ``after_batch(events)``, if it has one, is called after the commit instead.
EVENT_WRITE_HOOKS: list[Callable[[TicketEvent], Any]] = []


def ticket_event_create(
    *,
    ticket: Ticket,
    kind: str,
    actor: AbstractBaseUser | None = None,
    actor_name: str = "",
    body: str = "",
    is_public: bool = False,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    notify: bool = False,
) -> TicketEvent:
    """Append one event to the timeline. With ``notify``, recipients are told after
    commit."""
    event = TicketEvent(
        ticket=ticket,
        kind=kind,
        actor=actor,
        actor_name=actor_name,
        body=body,
        is_public=is_public,
        data=data or {},
        dedupe_key=dedupe_key,
        notify=notify,
    )
    events_add([event], write_hooks_run=True)
    for hook in list(EVENT_WRITE_HOOKS):
        hook(event)
    return event


def events_add(
    events: Sequence[TicketEvent],
    *,
    notify_batch: Callable[[list[int]], None] | None = None,
    write_hooks_run: bool = False,
) -> list[TicketEvent]:
    """Insert ``events`` (each gets its ``pk`` and ``created_at``), queue the
    notifications of those with ``notify`` and run the hooks, both after commit.
    ``notify_batch(ids)`` replaces the per-event notification kick with one call for
    the whole batch (the sweep queues one task per batch). Without ``write_hooks_run``
    (only ``ticket_event_create`` runs them in the transaction), the write hooks'
    ``after_batch`` gets the events after the commit."""
    events = list(events)
    if not events:
        return events
    _insert(events)
    cache.bump(cache.TICKETS)
    batch = list(events)
    to_notify = [e.pk for e in batch if e.notify]

    def committed() -> None:
        if to_notify:
            _notify(to_notify, notify_batch)
        if not write_hooks_run:
            _run_after_batch(batch)
        _run_hooks(batch)

    transaction.on_commit(committed)
    return events


def _notify(ids: list[int], notify_batch: Callable[[list[int]], None] | None) -> None:
    from .notify import notifications_kick

    try:
        if notify_batch is not None:
            notify_batch(ids)
        else:
            for pk in ids:
                notifications_kick(pk)
    except Exception:  # broker down: the outbox flush sends them later
        logger.warning("could not queue notifications for events %s; outbox will retry", ids)


def _run_after_batch(batch: list[TicketEvent]) -> None:
    for hook in list(EVENT_WRITE_HOOKS):
        after = getattr(hook, "after_batch", None)
        if after is None:
            continue
        try:
            after(batch)
        except Exception:
            logger.exception("write hook %r failed after a batch", hook)


def _run_hooks(batch: list[TicketEvent]) -> None:
    for hook in list(EVENT_HOOKS):
        many = getattr(hook, "for_many", None)
        targets = [(many, batch)] if many is not None else [(hook, e) for e in batch]
        for call, arg in targets:
            try:
                call(arg)
            except Exception:
                logger.exception("event hook %r failed", hook)


def _insert(events: list[TicketEvent]) -> None:
    """One statement for the batch. On PostgreSQL the columns travel as arrays to
    ``INSERT … SELECT FROM unnest(…)``: ``bulk_create`` prepares every field of every
    object in Python (~0.1 ms per event, a fifth of the sweep's Python time per
    promotion)."""
    if connection.vendor != "postgresql" or any(e.notified_at is not None for e in events):
        TicketEvent.objects.bulk_create(events)
        return
    now = timezone.now()
    columns = [
        ("ticket_id", "bigint", [e.ticket_id for e in events]),
        ("kind", "text", [e.kind for e in events]),
        ("actor_id", "bigint", [e.actor_id for e in events]),
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


@dataclass(frozen=True)
class CasRow:
    """A locked ticket with its new values set, and what the writer read before."""

    ticket: Ticket
    from_tier: int
    from_deadline: datetime | None
    from_status: str


def tickets_compare_and_set(rows: Sequence[CasRow], *, fields: Sequence[str]) -> int:
    """Write ``fields`` of each row's ticket only while the row still holds the tier,
    deadline and status read under its lock, in one statement (``UPDATE … FROM (VALUES
    …) v WHERE t.id = v.id AND t.tier = v.from_tier AND t.escalate_at IS NOT DISTINCT
    FROM v.from_deadline AND t.status = v.from_status``). Returns how many matched.

    The compared values travel in the VALUES list, so they are join clauses, and the
    only restriction on ``t`` is ``t.id = ANY(ids)``: the planner can only probe the
    primary key (a constant ``escalate_at <= now`` planned a bitmap scan of every
    overdue live ticket, dead index entries of earlier batches included). Django's
    ``bulk_update`` builds a CASE per column and row (~6 ms of Python per ticket)."""
    if not rows:
        return 0
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
        "WHERE t.id = ANY(%s) AND t.id = v.id AND t.tier = v.from_tier "
        "AND t.escalate_at IS NOT DISTINCT FROM v.from_deadline "
        "AND t.status = v.from_status RETURNING t.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, [row.ticket.pk for row in rows]])
        matched = len(cursor.fetchall())
    cache.bump(cache.TICKETS)  # an UPDATE sends no post_save
    return matched


def tickets_update(ids: Iterable[int], **values: Any) -> int:
    """``UPDATE`` of ticket rows that no cached piece may keep showing stale (a
    ``QuerySet.update()`` sends no signal): the write path's one other raw write."""
    done = Ticket.objects.filter(pk__in=ids).update(**values)
    cache.bump(cache.TICKETS)
    return done


def tickets_loaded() -> None:
    """Tickets and events were bulk-written around this module (the demo history):
    every cached piece that shows them is recomputed on its next read."""
    cache.bump(cache.TICKETS)
