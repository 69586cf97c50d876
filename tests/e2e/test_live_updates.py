"""Live updates in the browser (Playwright + Debian chromium), with the ASGI stream
server running beside the test's web server as in production (another port, the
page's origin allowed):

* the queue stops polling while its stream is open, and a new ticket still appears
  within about a second, fetched because the stream said so; with the stream server
  gone the page polls again and still sees the next one;
* on a ticket page, another agent's presence, "typing…" and reply arrive without a
  reload.
"""

from __future__ import annotations

import os
import time

import pytest
from playwright.sync_api import expect

from tests.dburl import url_of
from tests.faults.harness import StreamServer, have_redis
from tickets.models import TicketEvent
from tickets.services import core

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not have_redis(), reason="needs redis-server"),
]


@pytest.fixture
def stream(live_server, settings, tmp_path):
    """The stream server on the test database, the live server's pages pointed at it."""
    env = {
        **os.environ,
        "DATABASE_URL": url_of(settings.DATABASES["default"]),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "TIERDESK_LIVE_ALLOWED_ORIGINS": live_server.url,
        "LOG_LEVEL": "WARNING",
        "TIERDESK_VAR_DIR": str(tmp_path / "var"),
    }
    server = StreamServer(env, log=tmp_path / "stream.log").start()
    origin = f"http://localhost:{server.port}"
    settings.LIVE_STREAM_URL = f"{origin}/live/stream/"
    settings.CONTENT_SECURITY_POLICY = settings.CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'", f"connect-src 'self' {origin}"
    )
    yield server
    server.stop()


def login(new_page, live_server, username: str, path: str = "/agent/"):
    page = new_page()
    page.goto(f"/accounts/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}{path}**")
    return page


@pytest.mark.django_db(transaction=True)
def test_the_queue_gets_a_new_ticket_pushed_and_polls_when_the_stream_is_gone(
    live_server, new_page, stream, make_ticket, agent1
):
    page = login(new_page, live_server, "agent1")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "partial=rows" in r.url else None)
    expect(page.locator("html")).to_have_attribute("data-live", "open")

    time.sleep(6)  # longer than the queue's 5 s poll: it waits while the stream is open
    assert polls == []

    created = time.monotonic()
    ticket = make_ticket(subject="Printer shows a fire icon")
    expect(page.locator(f'tr[data-reference="{ticket.reference}"]')).to_be_visible(timeout=5000)
    assert time.monotonic() - created < 1.5
    assert 1 <= len(polls) <= 2  # fetched because the stream asked (no poll came due)

    # The stream server goes away: the page falls back to polling by itself.
    stream.stop()
    expect(page.locator("html")).not_to_have_attribute("data-live", "open", timeout=10_000)
    later = make_ticket(subject="Monitor flickers")
    expect(page.locator(f'tr[data-reference="{later.reference}"]')).to_be_visible(timeout=12_000)


@pytest.mark.django_db(transaction=True)
def test_presence_typing_and_a_reply_reach_the_other_agent_on_the_ticket(
    live_server, new_page, stream, make_ticket, agent1
):
    from tests.factories import make_agent

    make_agent(1, username="agent1b")
    ticket = make_ticket(subject="VPN drops every hour")
    path = f"/agent/tickets/{ticket.reference}/"
    watcher = login(new_page, live_server, "agent1", path)
    expect(watcher.locator("html")).to_have_attribute("data-live", "open")

    writer = login(new_page, live_server, "agent1b", path)
    expect(writer.locator("html")).to_have_attribute("data-live", "open")
    expect(watcher.get_by_test_id("viewers")).to_contain_text("agent1b", timeout=3000)

    writer.get_by_label("Message").press_sequentially("Looking at it", delay=20)
    expect(watcher.get_by_test_id("typing")).to_have_text(
        "agent1b is typing a reply…", timeout=3000
    )

    # A reply posted elsewhere (the API, e-mail, another node) shows in the timeline.
    core.ticket_event_create(
        ticket=ticket, kind=TicketEvent.Kind.NOTE, body="Router firmware is 2 years old"
    )
    expect(watcher.locator("#timeline")).to_contain_text(
        "Router firmware is 2 years old", timeout=3000
    )
    # What the watcher had typed stays where it was.
    assert watcher.get_by_label("Message").input_value() == ""
