"""Security review #26, item 3c: reading tracking pages and their attachments (GET)
is limited per IP and minute (PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE), generously: a
customer refreshing never sees it; a script reading or guessing links does."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tickets.services.attachments import attachment_add

pytestmark = pytest.mark.django_db


def track_url(ticket) -> str:
    return f"/tickets/track/{ticket.tracking_token}/"


def test_a_customer_refreshing_never_sees_the_limit(settings, client, ticket):
    assert settings.PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE >= 120
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        statuses = {client.get(track_url(ticket)).status_code for _ in range(60)}
    assert statuses == {200}


def test_reads_over_the_limit_get_429_and_the_next_minute_starts_over(settings, ticket):
    settings.PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE = 3
    client, neighbour = Client(REMOTE_ADDR="203.0.113.7"), Client(REMOTE_ADDR="203.0.113.8")
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        assert [client.get(track_url(ticket)).status_code for _ in range(3)] == [200] * 3
        refused = client.get(track_url(ticket))
        assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
        assert "Please wait a minute" in refused.content.decode()
        assert neighbour.get(track_url(ticket)).status_code == 200  # per IP
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert client.get(track_url(ticket)).status_code == 200


def test_guessing_links_costs_the_same_as_reading(settings):
    settings.PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE = 2
    client = Client()
    with time_machine.travel(timezone.now(), tick=False):
        codes = [client.get(f"/tickets/track/guess{n}xxxxxxxxxxxxxxxxxxxx/").status_code for n in range(3)]  # fmt: skip
    assert codes == [404, 404, 429]


def test_attachments_share_the_tracking_page_s_limit(settings, tmp_path, ticket):
    settings.MEDIA_ROOT = tmp_path
    settings.PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE = 2
    attachment = attachment_add(
        ticket=ticket, upload=SimpleUploadedFile("log.txt", b"error 42", "text/plain")
    )
    client = Client()
    url = f"{track_url(ticket)}attachments/{attachment.pk}/"
    with time_machine.travel(timezone.now(), tick=False):
        assert client.get(track_url(ticket)).status_code == 200
        assert client.get(url).status_code == 200
        assert client.get(url).status_code == 429
