"""A Celery worker SIGKILLed in the middle of sending a notification: the message was
never acked, so the broker redelivers it (acks_late + reject_on_worker_lost; with the
Redis transport after ``visibility_timeout``) to the next worker, and the e-mail goes
out exactly once (the task is idempotent through ``TicketEvent.notified_at``)."""

from __future__ import annotations

import socketserver
import threading
import time

import pytest
from celery import Celery

from tickets.models import TicketEvent

from .harness import CeleryWorker, RedisServer, django_env, free_port, have_redis, wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.worker,
    pytest.mark.skipif(not have_redis(), reason="needs redis-server"),
]

VISIBILITY_TIMEOUT = 3


class FakeSMTP(socketserver.ThreadingTCPServer):
    """The first connection hangs before the greeting (the SMTP server is slow, the
    worker is stuck mid-task); later ones accept mail and record it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int):
        self.connections = 0
        self.messages: list[str] = []
        self.first_connected = threading.Event()
        self.release = threading.Event()
        super().__init__(("127.0.0.1", port), _SMTPHandler)


class _SMTPHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: FakeSMTP = self.server  # type: ignore[assignment]
        server.connections += 1
        if server.connections == 1:
            server.first_connected.set()
            server.release.wait(timeout=120)
            return
        self._say("220 fake ESMTP")
        data, in_data = [], False
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    server.messages.append("\n".join(data))
                    data, in_data = [], False
                    self._say("250 queued")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 fake")
            elif verb == "DATA":
                in_data = True
                self._say("354 go ahead")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 ok")

    def _say(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()


@pytest.mark.django_db(transaction=True)
def test_killed_mid_task_the_notification_is_redelivered_and_sent_once(
    make_ticket, test_database_url, tmp_path
):
    ticket = make_ticket(requester_email="pat@example.com")
    event = ticket.events.get(kind=TicketEvent.Kind.CREATED)
    # The unit-test run sent it in-process already; make it pending again.
    TicketEvent.objects.filter(pk=event.pk).update(notified_at=None)

    smtp = FakeSMTP(free_port(range(8300, 8310)))
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    redis = RedisServer().start()
    env = django_env(
        database_url=test_database_url,
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.server_address[1]}",
        TIERDESK_VAR_DIR=str(tmp_path / "var"),
    )
    first = CeleryWorker(env, log=tmp_path / "worker1.log")
    second = CeleryWorker(env, log=tmp_path / "worker2.log")
    sender = Celery(broker=redis.url(1))
    try:
        first.start()
        # An explicit connection: Celery lets the CELERY_BROKER_URL variable win otherwise.
        with sender.connection_for_write(redis.url(1)) as connection:
            # What notifications_kick queues after a commit: send everything pending.
            sender.send_task("tickets.tasks.notifications_send", connection=connection)
        assert smtp.first_connected.wait(timeout=30), (tmp_path / "worker1.log").read_text()
        first.kill()  # mid-task: connected to SMTP, nothing sent, nothing acked
        killed_at = time.monotonic()
        smtp.release.set()
        event.refresh_from_db()
        assert event.notified_at is None  # the killed transaction rolled back

        # The message stays unacked in Redis until the visibility timeout passes; the
        # next worker restores it when it starts polling.
        time.sleep(max(0.0, VISIBILITY_TIMEOUT + 1 - (time.monotonic() - killed_at)))
        second.start()

        def delivered() -> bool:
            event.refresh_from_db()
            return event.notified_at is not None

        wait_for(delivered, timeout=90, interval=0.3, what="the redelivered task")
        time.sleep(VISIBILITY_TIMEOUT + 2)  # room for a wrong second delivery
    finally:
        first.stop()
        second.stop()
        redis.stop()
        smtp.shutdown()
        smtp.server_close()
    assert smtp.connections == 2
    assert len(smtp.messages) == 1
    assert f"[{ticket.reference}]" in smtp.messages[0]
    event.refresh_from_db()
    assert event.notified_at is not None

    # Run again (a late duplicate delivery): still nothing more is sent.
    from tickets.services.notify import ticket_event_send

    assert ticket_event_send(event_id=event.pk) == 0
