#!/usr/bin/env python
"""What automation rules cost a ticket write: 0 versus 200 active triggers.

Standalone: ``DATABASE_URL=postgres://… python bench/triggers.py [--json out.json]``.
Migrates the database if needed, then times the same writes (a ticket submission
through ``ticket_create``, and an agent's priority change and note on it) with no
rules, then with ``--rules`` active rules spread over the event kinds (half listen to
"created", the kind every submission writes), each with conditions a realistic desk
would set (a category, a requester domain, a word in the text) that the benchmark's
tickets do not meet: what is measured is the engine's overhead on every write, not
the work of actions. Each configuration runs ``--rounds`` interleaved rounds of
``--writes`` writes; each write is one request's worth (one memo scope, as the
middleware opens) in its own transaction, rolled back so both configurations see the
same table. Goal: the median with rules within 1.5×
the median without.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from automation.models import Trigger  # noqa: E402
from helpdesk import cache  # noqa: E402
from tickets.models import Category, TicketEvent  # noqa: E402
from tickets.services import core  # noqa: E402
from tiers.models import AgentProfile, BusinessCalendar  # noqa: E402

KINDS = [k for k, _label in TicketEvent.Kind.choices if k != TicketEvent.Kind.TRIGGER]


class _Rollback(Exception):
    pass


def _setup() -> tuple[Category, Category, object]:
    call_command("migrate", verbosity=0, interactive=False)
    BusinessCalendar.objects.get_or_create(
        name="24×7", defaults={"is_24x7": True, "is_default": True}
    )
    used, _ = Category.objects.get_or_create(
        slug="bench-automation", defaults={"name": "Bench automation", "entry_tier": 1}
    )
    other, _ = Category.objects.get_or_create(
        slug="bench-automation-other", defaults={"name": "Bench automation (rules)"}
    )
    user, _ = get_user_model().objects.get_or_create(username="bench-automation-agent")
    AgentProfile.objects.get_or_create(user=user, defaults={"tier": 1, "is_manager": True})
    return used, other, user


def _rules(count: int, other: Category) -> None:
    Trigger.objects.filter(name__startswith="bench rule ").delete()
    for n in range(count):
        kind = "created" if n % 2 == 0 else KINDS[n % len(KINDS)]
        rule = Trigger.objects.create(
            name=f"bench rule {n:03d}",
            position=n,
            event_kinds=[kind, "priority"] if n % 5 == 0 else [kind],
            requester_domain=f"customer{n}.example" if n % 3 == 0 else "",
            text_contains=f"word{n}" if n % 3 == 1 else "",
            priorities=["urgent"] if n % 3 == 2 else [],
            set_priority="high",
            add_tag=f"rule-{n}",
        )
        if n % 4 == 0:
            rule.categories.set([other])


def _write(category: Category, agent: object, n: int) -> None:
    # As a web request does (helpdesk.middleware): every memo's counter read once.
    try:
        with cache.request_scope(), transaction.atomic():
            ticket = core.ticket_create(
                category=category,
                subject=f"Cannot print {n}",
                description="The printer on floor 2 shows an error.",
                requester_name="Bench Customer",
                requester_email=f"bench{n}@bench.example",
            )
            core.ticket_change_priority(ticket=ticket, actor=agent, priority="low")
            core.ticket_add_note(ticket=ticket, agent=agent, body="Checked the queue.")
            raise _Rollback
    except _Rollback:
        pass


def _round(category: Category, agent: object, writes: int) -> list[float]:
    timings = []
    for n in range(writes):
        started = time.perf_counter()
        _write(category, agent, n)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", type=int, default=200)
    p.add_argument("--writes", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    category, other, agent = _setup()
    results: dict[str, list[float]] = {"0": [], str(args.rules): []}
    _rules(0, other)
    _round(category, agent, 20)  # warm: connections, compiled SQL, the rule memo
    for _ in range(args.rounds):
        for count in (0, args.rules):
            _rules(count, other)
            _round(category, agent, 5)  # the memo reloads after the rule change
            results[str(count)] += _round(category, agent, args.writes)
    _rules(0, other)
    none, many = results["0"], results[str(args.rules)]

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    out = {
        "rules": args.rules,
        "writes_per_config": len(none),
        "events_per_write": 3,
        "none.median_ms": round(statistics.median(none), 2),
        "none.p95_ms": round(p95(none), 2),
        "rules.median_ms": round(statistics.median(many), 2),
        "rules.p95_ms": round(p95(many), 2),
        # Named for the report's figure filter (bench/run.py shows keys with "ms").
        "median_ms_ratio": round(statistics.median(many) / statistics.median(none), 3),
        "goal": "median_ms_ratio <= 1.5",
    }
    out["met"] = out["median_ms_ratio"] <= 1.5
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
