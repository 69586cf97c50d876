"""The active webhook subscription list is kept per process under the "webhooks"
version (integrations/services.py): every Webhook write makes the next ticket event
see it; a cache outage means reading the table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import services
from integrations.models import Webhook
from tests.outage import DEAD_CACHE

pytestmark = pytest.mark.django_db


def _ids(event_type="ticket.created"):
    with CaptureQueriesContext(connection) as ctx:
        hooks = services.active_webhooks()
    return tuple(pk for pk, events in hooks if event_type in events), len(ctx.captured_queries)


def test_the_list_is_read_once_per_version(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        a = Webhook.objects.create(name="a", url="https://a.example/h", events=["ticket.created"])
    assert _ids() == ((a.pk,), 1)
    assert _ids() == ((a.pk,), 0)  # served without a query
    assert _ids("ticket.resolved") == ((), 0)


def test_every_webhook_write_reaches_the_next_event(django_capture_on_commit_callbacks):
    assert _ids()[0] == ()
    with django_capture_on_commit_callbacks(execute=True):
        a = Webhook.objects.create(name="a", url="https://a.example/h", events=["ticket.created"])
    assert _ids()[0] == (a.pk,)
    with django_capture_on_commit_callbacks(execute=True):
        a.is_active = False
        a.save()
    assert _ids()[0] == ()
    with django_capture_on_commit_callbacks(execute=True):
        a.is_active = True
        a.events = ["ticket.resolved"]
        a.save()
    assert _ids()[0] == ()
    assert _ids("ticket.resolved")[0] == (a.pk,)
    with django_capture_on_commit_callbacks(execute=True):
        a.delete()
    assert _ids("ticket.resolved")[0] == ()


def test_the_ticket_hook_queues_a_new_subscription(
    make_ticket, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    from integrations import tasks

    monkeypatch.setattr(tasks.webhook_deliver, "delay", lambda **kw: queued.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        hook = Webhook.objects.create(
            name="new", url="https://n.example/h", events=["ticket.created"]
        )
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    assert [q["webhook_id"] for q in queued] == [hook.pk]


def test_cache_outage_reads_the_table(settings):
    a = Webhook.objects.create(name="a", url="https://a.example/h", events=["ticket.created"])
    settings.CACHES = DEAD_CACHE
    assert services.webhooks_version() is None
    assert _ids() == ((a.pk,), 1)
    assert _ids() == ((a.pk,), 1)
    Webhook.objects.filter(pk=a.pk).delete()  # nothing was kept: the next read sees it
    assert _ids() == ((), 1)
