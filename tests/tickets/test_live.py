"""Live updates: committed ticket changes are published on Redis, the ASGI stream
server passes them to agents' open pages (and nothing to anyone else), "typing…" and
presence reach the others on the ticket, and under WSGI the stream declines (204) so
pages keep polling."""

from __future__ import annotations

import http.client
import json
import os
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from helpdesk import live as hub_live
from tests.factories import TicketFactory, UserFactory
from tests.faults.harness import StreamServer, have_redis
from tickets import live
from tickets.models import TicketEvent
from tickets.services import core
from tickets.services.agent import presence_key


@pytest.fixture
def subscriber():
    """Everything published on this database's live channel, in order."""
    client = redis.Redis.from_url(settings.LIVE_REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(hub_live.channel())
    received: list[dict] = []

    def messages(*, wait: float = 1.0) -> list[dict]:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.05)
            if message:
                received.append(json.loads(message["data"]))
        return received

    yield messages
    pubsub.close()
    client.close()


@pytest.mark.django_db(transaction=True)
def test_a_committed_ticket_change_is_published_once_and_a_rolled_back_one_never(
    subscriber, make_ticket
):
    ticket = make_ticket()
    assert {"kind": "tickets", "ids": [ticket.pk]} in subscriber()

    with pytest.raises(RuntimeError), transaction.atomic():
        core.ticket_event_create(ticket=ticket, kind=TicketEvent.Kind.NOTE, body="draft")
        raise RuntimeError("rolled back")
    with transaction.atomic():
        core.ticket_event_create(ticket=ticket, kind=TicketEvent.Kind.NOTE, body="kept")
    tickets_messages = [m for m in subscriber() if m["kind"] == "tickets"]
    assert tickets_messages[-1] == {"kind": "tickets", "ids": [ticket.pk]}
    # created (one or more events of the same commit) + the kept note; not the draft
    assert TicketEvent.objects.filter(ticket=ticket, body="draft").count() == 0


def test_which_stream_passes_which_message_on():
    change = {"kind": "tickets", "ids": [7, 9]}
    assert live.wanted(change, ticket_id=None, user_id=1)  # the queue: every change
    assert live.wanted(change, ticket_id=9, user_id=1)
    assert not live.wanted(change, ticket_id=8, user_id=1)
    typing = {"kind": "typing", "ticket": 9, "user": 2, "name": "agent2"}
    assert live.wanted(typing, ticket_id=9, user_id=1)
    assert not live.wanted(typing, ticket_id=9, user_id=2)  # not my own typing
    assert not live.wanted(typing, ticket_id=None, user_id=1)
    assert not live.wanted({"kind": "other"}, ticket_id=9, user_id=1)


@pytest.mark.django_db
def test_under_wsgi_the_stream_declines_so_pages_keep_polling(client, agent1):
    client.force_login(agent1)
    response = client.get("/live/stream/")
    assert response.status_code == 204


@pytest.mark.django_db
def test_typing_tells_the_others_and_needs_access_to_the_ticket(
    client, agent1, subscriber, category
):
    mine = TicketFactory(category=category, tier=1)
    above = TicketFactory(category=category, tier=3)
    client.force_login(agent1)
    assert client.post(f"/agent/tickets/{mine.reference}/typing/").status_code == 204
    assert client.post(f"/agent/tickets/{above.reference}/typing/").status_code == 404
    assert client.get(f"/agent/tickets/{mine.reference}/typing/").status_code == 405
    typing = [m for m in subscriber() if m["kind"] == "typing"]
    assert typing == [{"kind": "typing", "ticket": mine.pk, "user": agent1.pk, "name": "agent1"}]


@pytest.mark.django_db
def test_agent_pages_point_at_the_stream_and_poll_as_fallback(client, agent1, make_ticket):
    ticket = make_ticket()
    client.force_login(agent1)
    queue = client.get("/agent/").content.decode()
    assert '<meta name="tierdesk-live" content="/live/stream/">' in queue
    assert 'hx-trigger="every 5s, live"' in queue
    page = client.get(f"/agent/tickets/{ticket.reference}/").content.decode()
    assert f'data-live-ticket="{ticket.reference}"' in page
    assert 'hx-trigger="every 10s, live"' in page


# --------------------------------------------------------------------------- ASGI


class Stream:
    """An open ``text/event-stream`` response, read frame by frame."""

    def __init__(self, port: int, path: str, cookie: str = ""):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", path, headers={"Cookie": cookie, "Accept": "text/event-stream"})
        self.response = self.conn.getresponse()

    def frames(self, *, until: float):
        """Frames as (event, data) until ``until`` (monotonic) passes."""
        event, data = "message", None
        while time.monotonic() < until:
            line = self.response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                yield event, data
                event, data = "message", None

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def stream_server(tmp_path, settings):
    from tests.dburl import url_of

    env = {
        **os.environ,
        "DATABASE_URL": url_of(settings.DATABASES["default"]),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        "TIERDESK_VAR_DIR": str(tmp_path / "var"),
    }
    server = StreamServer(env, log=tmp_path / "stream.log").start()
    yield server
    server.stop()


def _cookie(client) -> str:
    return f"sessionid={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.mark.worker
@pytest.mark.skipif(not have_redis(), reason="needs redis-server")
@pytest.mark.django_db(transaction=True)
def test_the_stream_server_pushes_changes_presence_and_typing_to_agents_only(
    stream_server, client, agent1, agent2, make_ticket, tmp_path
):
    ticket = make_ticket()
    client.force_login(agent1)
    queue = Stream(stream_server.port, "/live/stream/", _cookie(client))
    page = Stream(stream_server.port, f"/live/stream/?ticket={ticket.reference}", _cookie(client))
    try:
        assert queue.response.status == 200, (tmp_path / "stream.log").read_text()
        assert queue.response.getheader("Content-Type").startswith("text/event-stream")
        soon = time.monotonic() + 5
        assert next(queue.frames(until=soon)) == ("hello", {"ticket": None})
        assert next(page.frames(until=soon)) == ("hello", {"ticket": ticket.pk})

        # Another agent opens the same ticket: the first one hears of it.
        other = type(client)()
        other.force_login(agent2)
        second = Stream(
            stream_server.port, f"/live/stream/?ticket={ticket.reference}", _cookie(other)
        )
        assert next(second.frames(until=time.monotonic() + 5))[0] == "hello"
        assert next(page.frames(until=time.monotonic() + 5)) == (
            "message",
            {"kind": "presence", "ticket": ticket.pk, "user": agent2.pk},
        )
        assert other.post(f"/agent/tickets/{ticket.reference}/typing/").status_code == 204
        assert next(page.frames(until=time.monotonic() + 5))[1]["name"] == "agent2"

        # A committed change reaches both pages of agent1 within a second.
        published = time.monotonic()
        core.ticket_event_create(ticket=ticket, kind=TicketEvent.Kind.NOTE, body="checked")
        for stream in (queue, page):
            _kind, data = next(stream.frames(until=time.monotonic() + 5))
            assert data == {"kind": "tickets", "ids": [ticket.pk]}
        assert time.monotonic() - published < 1.0

        # agent2 closes the page: agent1 hears of it at once, not when the mark expires.
        second.close()
        assert next(page.frames(until=time.monotonic() + 5)) == (
            "message",
            {"kind": "presence", "ticket": ticket.pk, "user": agent2.pk},
        )
        assert str(agent2.pk) not in cache.get(presence_key(ticket.reference))
        assert str(agent1.pk) in cache.get(presence_key(ticket.reference))
    finally:
        queue.close()
        page.close()

    # Nobody signed in, and a customer, get no stream.
    anonymous = Stream(stream_server.port, "/live/stream/")
    assert anonymous.response.status == 403
    anonymous.close()
    client.force_login(UserFactory(username="pat"))
    customer = Stream(stream_server.port, "/live/stream/", _cookie(client))
    assert customer.response.status == 403
    customer.close()
