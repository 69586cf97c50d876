"""On PostgreSQL: sweeps and manual escalations racing over the same overdue tickets.

Each thread has its own database connection (Django's connections are per thread);
the data is committed (``transaction=True``) so the threads see it.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from helpdesk.exceptions import ConflictError
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_escalate
from tiers.services import escalation_sweep

from .helpers import make_overdue_tickets

Kind = TicketEvent.Kind
N = 200

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def overdue(policies, category):
    # All came due a moment ago, in a spread so batches interleave.
    ids = make_overdue_tickets(
        N, category=category, due=timezone.now(), spread=timedelta(milliseconds=N)
    )
    return list(Ticket.objects.filter(pk__in=ids))


def _run_threads(targets) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(fn):
        def run():
            try:
                barrier.wait()
                fn()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_two_sweeps_and_a_manual_escalation_promote_each_ticket_once(overdue, manager):
    promoted_by_sweeps: list[str] = []
    manual_done: list[str] = []
    conflicts: list[str] = []
    # The manual escalator works every other ticket, in random order, so it collides
    # with the sweeps without covering every ticket itself.
    manual_targets = overdue[::2]
    random.Random(3).shuffle(manual_targets)

    def sweep():
        report = escalation_sweep(batch=15)
        promoted_by_sweeps.extend(p[0] for p in report.promoted)

    def manual():
        for ticket in manual_targets:
            try:
                ticket_escalate(
                    ticket=ticket, actor=manager, symptom="smoke", steps_tried="unplugged",
                    findings="fire", expected_tier=1,
                )  # fmt: skip
                manual_done.append(ticket.reference)
            except ConflictError:
                conflicts.append(ticket.reference)

    errors = _run_threads([sweep, sweep, manual])
    assert errors == []

    assert Ticket.objects.filter(tier=2).count() == N
    assert Ticket.objects.filter(escalation_count=1).count() == N
    moves = Counter(
        TicketEvent.objects.filter(kind__in=[Kind.PROMOTED, Kind.ESCALATED]).values_list(
            "ticket_id", flat=True
        )
    )
    assert set(moves.values()) == {1} and len(moves) == N
    # Every ticket was moved by exactly one of the racers, and nobody lost one.
    assert len(promoted_by_sweeps) + len(manual_done) == N
    assert len(set(promoted_by_sweeps)) == len(promoted_by_sweeps)
    assert len(conflicts) + len(manual_done) == len(manual_targets)
    assert (
        not TicketEvent.objects.values("dedupe_key")
        .exclude(dedupe_key=None)
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    # A late sweep finds nothing left to do.
    assert escalation_sweep().promoted == []


def test_concurrent_sweeps_split_the_work_without_overlap(overdue):
    reports = []

    def sweep():
        reports.append(escalation_sweep(batch=10))

    assert _run_threads([sweep, sweep, sweep]) == []
    refs = [p[0] for r in reports for p in r.promoted]
    assert len(refs) == len(set(refs)) == N
    assert TicketEvent.objects.filter(kind=Kind.PROMOTED).count() == N
