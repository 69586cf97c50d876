"""What one ticket submission costs: its queries (no UPDATE after the INSERT) and its
rate-limit round trips, with the same safety (CSRF, limits, idempotent key)."""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import ratelimit
from tests.outage import DEAD_CACHE
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
NEW = "/tickets/new/"


@pytest.fixture
def form(policies, category):
    return {
        "name": "Pat Customer",
        "email": "pat@example.com",
        "category": str(category.pk),
        "subject": "Laptop does not start",
        "description": "Since this morning my laptop shows a black screen.",
        "urgency": "high",
        "impact": "medium",
        "website": "",
        "submission_key": uuid.uuid4().hex,
    }


@pytest.fixture
def redis_cache(settings):
    """The production cache backend (make test runs with REDIS_URL)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (REDIS_URL)")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }


def test_submission_inserts_the_ticket_with_its_reference_and_never_updates_it(client, form):
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(NEW, form)
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.reference == Ticket.reference_for(ticket.pk)
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [q for q in sql if q.startswith('UPDATE "tickets_ticket"')]
    # Without attachments the "created" event is not read back.
    assert not [q for q in sql if q.startswith('SELECT "tickets_ticketevent"')]


def test_submission_query_count_is_bounded(client, form, django_assert_max_num_queries):
    # Was 19 (with transaction statements). Cold: the policies, calendar and webhook
    # list are read once here (5 queries), then served from the versioned memos.
    with django_assert_max_num_queries(16):
        assert client.post(NEW, form).status_code == 302


def test_a_new_ticket_never_looks_its_key_up_and_reads_no_policy_when_warm(client, form):
    """The unique index on submission_key settles resubmissions (see
    tests/faults/test_double_submit.py): a new ticket costs no key lookup. The
    policies, calendar and webhook list come from the versioned memos."""
    assert client.post(NEW, form).status_code == 302  # cold: reads the policies once
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(NEW, dict(form, submission_key=uuid.uuid4().hex))
    assert response.status_code == 302
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [q for q in sql if q.startswith('SELECT "tickets_ticket"')]
    assert not [q for q in sql if '"tiers_' in q or '"integrations_webhook"' in q]
    assert Ticket.objects.count() == 2


def test_a_resubmitted_form_returns_the_first_ticket_through_the_unique_key(client, form):
    first = client.post(NEW, form)
    again = client.post(NEW, form)
    assert again.status_code == 302 and again.url == first.url
    assert Ticket.objects.count() == 1
    other_address = client.post(NEW, dict(form, email="someone.else@example.com"))
    assert other_address.status_code == 400
    assert first.url not in other_address.content.decode()  # no tracking link leaks
    assert Ticket.objects.count() == 1


def test_csrf_is_still_checked(form):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(NEW, form).status_code == 403
    assert not Ticket.objects.exists()


def test_redis_limit_counts_with_expiry_peek_and_reset(redis_cache):
    from django.core.cache import cache, caches

    results = [ratelimit.hit("cost:ip", limit=2, window=60) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    assert [r.count for r in results] == [1, 2, 3]
    assert ratelimit.peek("cost:ip", window=60) == 3
    backend = caches["default"]
    key = backend.make_and_validate_key(f"rl:cost:ip:{int(__import__('time').time()) // 60}")
    assert 0 < backend._cache.get_client(key).ttl(key) <= 65
    ratelimit.reset("cost:ip", window=60)
    assert ratelimit.peek("cost:ip", window=60) == 0
    cache.clear()


def test_redis_limits_still_refuse_submissions_over_the_limit(redis_cache, client, form, settings):
    settings.PORTAL_SUBMIT_LIMIT_PER_IP = 1
    assert client.post(NEW, form).status_code == 302
    assert client.post(NEW, dict(form, submission_key=uuid.uuid4().hex)).status_code == 429
    assert Ticket.objects.count() == 1


def test_unreachable_redis_fails_open(settings, client, form):
    settings.CACHES = DEAD_CACHE
    assert ratelimit.hit("cost:down", limit=1, window=60).allowed
    assert client.post(NEW, form).status_code == 302


def test_a_submission_counts_its_ip_and_address_in_one_round_trip(
    redis_cache, client, form, settings, monkeypatch
):
    import redis.client

    from tickets.views.portal import _email_key

    pipelines = []
    real = redis.client.Pipeline.execute

    def counting(self, *args, **kwargs):
        pipelines.append([c[0][0] for c in self.command_stack])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counting)
    assert client.post(NEW, form).status_code == 302
    # SET NX + INCR for the IP and for the address, sent together.
    assert pipelines[0] == ["SET", "INCRBY", "SET", "INCRBY"]
    window = settings.PORTAL_RATE_WINDOW_SECONDS
    assert ratelimit.peek("portal:submit:ip:127.0.0.1", window=window) == 1
    assert ratelimit.peek(f"portal:submit:email:{_email_key(form['email'])}", window=window) == 1
