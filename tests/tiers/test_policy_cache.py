"""Budget rules, SLA targets and calendars are kept across requests under the
"policies" version (tiers/selectors.py): a write of any row they are built from is
seen by the next ticket created, and a cache outage means reading the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PolicyFactory
from tests.outage import DEAD_CACHE
from tickets.services import ticket_create
from tiers import selectors
from tiers.models import EscalationPolicy, Holiday, SLAPolicy, WorkingHours

pytestmark = pytest.mark.django_db

#: A Monday, 10:00 UTC.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr("tickets.services.core._now", lambda: MONDAY)
    return MONDAY


def _create(category):
    return ticket_create(
        category=category,
        subject="Printer",
        description="It jams",
        requester_name="Pat",
        requester_email="pat@example.com",
        priority="normal",
    )


def _queries(fn):
    with CaptureQueriesContext(connection) as ctx:
        value = fn()
    return value, len(ctx.captured_queries)


def test_rules_are_read_once_then_served_without_queries(policies):
    rule, cold = _queries(lambda: selectors.budget_rule_for(tier=1, priority="normal"))
    again, warm = _queries(lambda: selectors.budget_rule_for(tier=1, priority="normal"))
    assert cold >= 1 and warm == 0
    assert again == rule
    (sla, _cal), cold = _queries(lambda: selectors.sla_policy_for(priority="normal"))
    _, warm = _queries(lambda: selectors.sla_policy_for(priority="normal"))
    assert cold >= 1 and warm == 0
    # Plain data, never a model instance with lazy relations.
    assert isinstance(sla, selectors.SLARule)
    assert isinstance(rule, selectors.BudgetRule)


def test_a_budget_change_reaches_the_next_ticket(
    policies, category, frozen_now, django_capture_on_commit_callbacks
):
    first = _create(category)
    assert first.escalate_at == MONDAY + timedelta(hours=8)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        policy = EscalationPolicy.objects.get(tier=1, priority="normal")
        policy.budget = timedelta(hours=3)
        policy.save()
    assert callbacks  # the version is bumped again once the write commits
    second = _create(category)
    assert second.escalate_at == MONDAY + timedelta(hours=3)


def test_an_sla_change_reaches_the_next_ticket(
    policies, category, frozen_now, django_capture_on_commit_callbacks
):
    first = _create(category)
    sla = SLAPolicy.objects.get(priority="normal")
    assert first.first_response_due == MONDAY + sla.first_response
    with django_capture_on_commit_callbacks(execute=True):
        sla.first_response = timedelta(minutes=7)
        sla.save()
    assert _create(category).first_response_due == MONDAY + timedelta(minutes=7)


def test_a_new_holiday_and_working_hours_reach_the_next_ticket(
    policies, calendar, category, frozen_now, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        calendar.is_24x7 = False
        calendar.save()
        for weekday in range(5):
            WorkingHours.objects.create(
                calendar=calendar, weekday=weekday, start=time(9), end=time(17)
            )
    # 8 business hours from Monday 10:00 with 9-17 days: Tuesday 10:00.
    assert _create(category).escalate_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        Holiday.objects.create(calendar=calendar, date=date(2026, 11, 24), name="Closed")
    assert _create(category).escalate_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        Holiday.objects.filter(date=date(2026, 11, 24)).get().delete()
    assert _create(category).escalate_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_a_deleted_policy_falls_back_to_the_default_budget(
    policies, category, frozen_now, django_capture_on_commit_callbacks
):
    _create(category)
    with django_capture_on_commit_callbacks(execute=True):
        EscalationPolicy.objects.get(tier=1, priority="normal").delete()
    fallback = selectors.FALLBACK_BUDGETS[1]["normal"]
    assert _create(category).escalate_at == MONDAY + fallback
    with django_capture_on_commit_callbacks(execute=True):
        PolicyFactory(tier=1, priority="normal", budget=timedelta(hours=1))
    assert _create(category).escalate_at == MONDAY + timedelta(hours=1)


def test_the_version_is_bumped_after_commit(policies, django_capture_on_commit_callbacks):
    """A reader that took the new token before the commit may have kept the old rows
    under it: the bump after commit retires that token."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        policy = EscalationPolicy.objects.get(tier=1, priority="normal")
        policy.budget = timedelta(hours=2)
        policy.save()
        during = selectors.policies_version()
    for callback in callbacks:
        callback()
    assert selectors.policies_version() not in (None, during)


def test_cache_outage_reads_the_database(policies, category, frozen_now, settings):
    settings.CACHES = DEAD_CACHE
    assert selectors.policies_version() is None
    _, first = _queries(lambda: selectors.budget_rule_for(tier=1, priority="normal"))
    _, second = _queries(lambda: selectors.budget_rule_for(tier=1, priority="normal"))
    assert first == second >= 1  # nothing kept while the version is unknown
    # A write during the outage bumps nothing and does not fail.
    policy = EscalationPolicy.objects.get(tier=1, priority="normal")
    policy.budget = timedelta(hours=4)
    policy.save()
    assert _create(category).escalate_at == MONDAY + timedelta(hours=4)


def test_a_ticket_create_reads_the_policies_version_once(policies, category, monkeypatch):
    _create(category)  # cold: reads the rows
    reads = []
    real = selectors._policies.version
    monkeypatch.setattr(selectors._policies, "version", lambda: reads.append(1) or real())
    _create(category)
    assert len(reads) == 1


def test_a_pinned_block_reads_each_rule_once_even_with_the_cache_down(policies, settings):
    # The escalation sweep runs inside policies_pinned(): with Redis away it must not
    # read the same few rules again for every ticket it promotes.
    settings.CACHES = DEAD_CACHE
    with selectors.policies_pinned():
        rule, cold = _queries(lambda: selectors.budget_rule_for(tier=1, priority="normal"))
        again, warm = _queries(lambda: selectors.budget_rule_for(tier=1, priority="normal"))
    assert cold >= 1 and warm == 0
    assert again == rule
    _, after = _queries(lambda: selectors.budget_rule_for(tier=1, priority="normal"))
    assert after >= 1  # nothing kept in the process past the block
