"""Webhooks: signed JSON to a real HTTP receiver, retries with backoff on 5xx and
network errors, a delivery log row per attempt."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpdesk.celery import app as celery_app
from integrations.models import Webhook, WebhookDelivery
from integrations.services import sign_payload, verify_signature, webhook_backoff
from tickets.models import TicketEvent
from tickets.services import ticket_escalate, ticket_event_create, ticket_resolve

pytestmark = pytest.mark.django_db

PORTS = range(8150, 8160)  # this suite's port range


class Receiver:
    """A tiny HTTP server that records requests and answers with scripted statuses."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": body, "path": self.path}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 400 else b"boom")

            def log_message(self, *args):
                pass

        for port in PORTS:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free port in 8150-8159")
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _receiver_on_loopback(settings):
    """The receiver listens on loopback, which webhooks refuse unless allowed
    (tests/security/test_webhook_ssrf.py tests the refusals)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture(autouse=True)
def _eager_retries():
    """Eager tasks that propagate errors would hand ``Retry`` to the caller; without
    propagation Celery runs each retry in-process, as a worker would after the backoff."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hook(receiver):
    return Webhook.objects.create(
        name="CI",
        url=receiver.url,
        events=["ticket.created", "ticket.escalated", "ticket.resolved"],
    )


def assert_signed(request: dict, secret: str) -> dict:
    headers = request["headers"]
    assert verify_signature(
        secret=secret,
        timestamp=headers["X-Tierdesk-Timestamp"],
        body=request["body"],
        signature=headers["X-Tierdesk-Signature"],
    )
    assert headers["X-Tierdesk-Signature"].startswith("sha256=")
    assert headers["Content-Type"] == "application/json"
    return json.loads(request["body"])


def test_ticket_created_is_delivered_signed(
    hook, receiver, make_ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    [request] = receiver.requests
    payload = assert_signed(request, hook.secret)
    assert request["headers"]["X-Tierdesk-Event"] == "ticket.created"
    assert payload["type"] == "ticket.created"
    assert payload["ticket"]["reference"] == ticket.reference
    assert payload["ticket"]["url"].endswith(f"/agent/tickets/{ticket.reference}/")
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.succeeded and delivery.status_code == 200 and delivery.attempt == 1
    assert str(delivery.delivery_id) == payload["id"] == request["headers"]["X-Tierdesk-Delivery"]


def test_escalations_manual_and_timer_and_resolution(
    hook, receiver, make_ticket, agent1, manager, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_escalate(ticket=ticket, actor=agent1, symptom="s", steps_tried="t", findings="f")
    with django_capture_on_commit_callbacks(execute=True):
        # What the escalation engine writes when a tier budget runs out.
        ticket_event_create(
            ticket=ticket,
            kind=TicketEvent.Kind.PROMOTED,
            actor_name="system",
            data={"from_tier": 2, "to_tier": 3},
        )
    with django_capture_on_commit_callbacks(execute=True):
        ticket_resolve(ticket=ticket, actor=manager, resolution="ok")
    payloads = [assert_signed(r, hook.secret) for r in receiver.requests]
    assert [p["type"] for p in payloads] == [
        "ticket.escalated",
        "ticket.escalated",
        "ticket.resolved",
    ]
    assert payloads[0]["event"] == {
        "id": payloads[0]["event"]["id"], "kind": "escalated", "from_tier": 1, "to_tier": 2, "manual": True,
    }  # fmt: skip
    assert payloads[1]["event"]["manual"] is False and payloads[1]["event"]["to_tier"] == 3


def test_only_subscribed_events_and_active_hooks(
    receiver, make_ticket, agent1, django_capture_on_commit_callbacks
):
    Webhook.objects.create(name="resolved only", url=receiver.url, events=["ticket.resolved"])
    Webhook.objects.create(name="off", url=receiver.url, events=["ticket.created"], is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    assert receiver.requests == []


def test_retries_on_500_then_succeeds(
    hook, receiver, make_ticket, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503, 200]
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert_signed(request, hook.secret)
    attempts = list(WebhookDelivery.objects.order_by("attempt"))
    assert [(d.attempt, d.status_code, d.succeeded, d.will_retry) for d in attempts] == [
        (1, 500, False, True),
        (2, 503, False, True),
        (3, 200, True, False),
    ]
    assert len({d.delivery_id for d in attempts}) == 1
    assert attempts[0].response_body == "boom"


def test_gives_up_after_max_attempts(
    settings, hook, receiver, make_ticket, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.statuses = [500] * 10
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    assert len(receiver.requests) == 3
    assert not WebhookDelivery.objects.filter(succeeded=True).exists()
    assert WebhookDelivery.objects.get(attempt=3).will_retry is False


def test_client_errors_are_not_retried(
    hook, receiver, make_ticket, django_capture_on_commit_callbacks
):
    receiver.statuses = [410]
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.status_code == 410 and not delivery.will_retry


def test_network_errors_are_retried_and_logged(
    settings, make_ticket, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    # Nothing listens on the last port of the range while this runs.
    Webhook.objects.create(name="down", url="http://127.0.0.1:8159/hook", events=["ticket.created"])
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    attempts = list(WebhookDelivery.objects.order_by("attempt"))
    assert [(d.attempt, d.status_code, d.will_retry) for d in attempts] == [
        (1, None, True),
        (2, None, False),
    ]
    assert attempts[0].error


def test_a_failing_webhook_never_breaks_the_ticket_action(
    settings, make_ticket, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    Webhook.objects.create(name="bad scheme", url="file:///etc/passwd", events=["ticket.created"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    assert ticket.pk
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.error == "Only http and https URLs are called." and not delivery.succeeded


def test_signature_rejects_tampering_and_replays():
    import time

    now = str(int(time.time()))
    body = b'{"type":"ticket.created"}'
    signature = sign_payload(secret="s3cret", timestamp=now, body=body)
    assert verify_signature(secret="s3cret", timestamp=now, body=body, signature=signature)
    assert not verify_signature(
        secret="s3cret", timestamp=now, body=body + b" ", signature=signature
    )
    assert not verify_signature(secret="other", timestamp=now, body=body, signature=signature)
    old = str(int(time.time()) - 3600)
    stale = sign_payload(secret="s3cret", timestamp=old, body=body)
    assert not verify_signature(secret="s3cret", timestamp=old, body=body, signature=stale)
    # The timestamp is part of what is signed: a new timestamp on an old signature fails.
    assert not verify_signature(
        secret="s3cret", timestamp=str(int(now) + 1), body=body, signature=signature
    )


def test_backoff_is_exponential_and_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    assert [webhook_backoff(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhook_backoff(20) == 3600


def test_admin_shows_webhooks_and_the_delivery_log(
    admin_client, hook, receiver, make_ticket, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 200]
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    change = admin_client.get(f"/admin/integrations/webhook/{hook.pk}/change/")
    assert change.status_code == 200
    assert b"ticket.created" in change.content and b"500" in change.content
    log = admin_client.get("/admin/integrations/webhookdelivery/?succeeded__exact=0")
    assert log.status_code == 200 and b"500" in log.content
    search = admin_client.get("/admin/integrations/webhookdelivery/?q=TD-")
    assert search.status_code == 200
    add = admin_client.post(
        "/admin/integrations/webhook/add/",
        {
            "name": "New",
            "url": "ftp://example.com/",
            "events": ["ticket.created"],
            "is_active": "on",
            "secret": "x" * 40,
        },
    )
    assert b"Use an http:// or https:// URL." in add.content


def test_managers_register_webhooks_in_the_admin(client, manager, agent3, monkeypatch):
    import socket

    # The form resolves the host: a public address, without asking real DNS.
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    manager.is_staff = True
    manager.save()
    client.force_login(manager)
    response = client.post(
        "/admin/integrations/webhook/add/",
        {
            "name": "Ops chat",
            "url": "https://chat.example.com/hooks/tierdesk",
            "events": ["ticket.escalated", "ticket.resolved"],
            "is_active": "on",
            "secret": "s" * 64,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    hook = Webhook.objects.get(name="Ops chat")
    assert hook.events == ["ticket.escalated", "ticket.resolved"] and hook.created_by == manager
    assert client.get("/admin/integrations/webhookdelivery/").status_code == 200
    # Staff who are not managers get nothing beyond their model permissions.
    agent3.is_staff = True
    agent3.save()
    client.force_login(agent3)
    assert client.get("/admin/integrations/webhook/").status_code == 403


def test_failed_deliveries_can_be_sent_again_from_the_admin(
    settings, admin_client, hook, receiver, make_ticket, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500, 500, 200]
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    failed = list(WebhookDelivery.objects.values_list("pk", flat=True))
    assert len(failed) == 2
    response = admin_client.post(
        "/admin/integrations/webhookdelivery/",
        {"action": "deliver_again", "_selected_action": failed},
        follow=True,
    )
    assert b"Queued 1 new deliveries." in response.content
    latest = WebhookDelivery.objects.order_by("-id").first()
    assert latest.succeeded and latest.attempt == 1
    assert len(receiver.requests) == 3


def test_the_task_schedules_retries_with_exponential_backoff(settings, hook, receiver, make_ticket):
    from unittest import mock

    from celery.exceptions import Retry

    from integrations.tasks import webhook_deliver

    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    event = make_ticket().events.get(kind="created")
    receiver.statuses = [502, 502]
    kwargs = {
        "webhook_id": hook.pk,
        "event_id": event.pk,
        "event_type": "ticket.created",
        "delivery_id": "6f1c6a52-8f5e-4a8e-9a57-2d1f1b0f7a10",
    }
    for retries, countdown in [(0, 30), (1, 60)]:
        webhook_deliver.push_request(retries=retries)
        try:
            with (
                mock.patch.object(webhook_deliver, "retry", side_effect=Retry("later")) as retry,
                pytest.raises(Retry),
            ):
                webhook_deliver.run(**kwargs)
        finally:
            webhook_deliver.pop_request()
        retry.assert_called_once_with(countdown=countdown)
    attempts = list(
        WebhookDelivery.objects.order_by("attempt").values_list("attempt", "will_retry")
    )
    assert attempts == [(1, True), (2, True)]
