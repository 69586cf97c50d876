"""The managers' quarantine page: the reason, the raw message as a download, retry."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emailchannel.models import InboundMessage, QuarantinedMessage
from emailchannel.services import mail_ingest
from tests.factories import CategoryFactory
from tickets.models import Ticket

from .conftest import eml

pytestmark = pytest.mark.django_db
PAGE = "/email/quarantine/"


@pytest.fixture
def quarantined(policies):
    """Two refused messages: broken MIME, and a new ticket with no category to go to."""
    mail_ingest(raw=eml("broken_mime.eml"), source=InboundMessage.Source.HTTP)
    mail_ingest(raw=eml("html_only.eml"), source=InboundMessage.Source.IMAP)
    return list(QuarantinedMessage.objects.order_by("id"))


def test_managers_see_each_message_with_its_reason(
    client, manager, quarantined, django_assert_max_num_queries
):
    client.force_login(manager)
    with django_assert_max_num_queries(8):
        page = client.get(PAGE)
    assert reverse("emailchannel:quarantine") == PAGE
    text = page.content.decode()
    assert "Malformed message" in text and "StartBoundaryNotFoundDefect" in text
    assert "No category for new tickets" in text
    assert "Printer on floor 3 prints blank pages" in text
    assert "Retry message" in text and "Download message" in text
    assert 'href="/email/quarantine/"' in text  # in the managers' navigation


def test_the_page_lists_many_messages_in_a_bounded_number_of_queries(
    client, manager, policies, django_assert_max_num_queries
):
    for n in range(30):
        raw = eml("broken_mime.eml").replace(b"broken-mime-0001", f"b{n}".encode())
        mail_ingest(raw=raw, source=InboundMessage.Source.HTTP)
    client.force_login(manager)
    with django_assert_max_num_queries(8):
        assert client.get(PAGE).status_code == 200


def test_the_raw_message_downloads_and_is_never_rendered(client, manager, quarantined):
    client.force_login(manager)
    row = quarantined[0]
    response = client.get(f"/email/quarantine/{row.pk}/raw/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == eml("broken_mime.eml")


def test_a_retry_after_the_cause_is_fixed_posts_the_message(client, manager, quarantined):
    client.force_login(manager)
    no_category = quarantined[1]
    response = client.post(f"/email/quarantine/{no_category.pk}/retry/", follow=True)
    assert "Still refused" in response.content.decode()
    CategoryFactory(slug="general", entry_tier=1)
    response = client.post(f"/email/quarantine/{no_category.pk}/retry/", follow=True)
    ticket = Ticket.objects.get()
    assert f"Posted to {ticket.reference}" in response.content.decode()
    no_category.refresh_from_db()
    assert no_category.released_at is not None
    assert "Printer on floor 3" not in client.get(PAGE).content.decode().split("Recent messages")[0]


@pytest.mark.parametrize("who", ["agent1", "customer", None])
def test_only_managers_get_in(client, request, who, quarantined):
    if who:
        client.force_login(request.getfixturevalue(who))
    row = quarantined[0]
    for url in (PAGE, f"/email/quarantine/{row.pk}/raw/"):
        response = client.get(url)
        assert response.status_code in (302, 403), url
    response = client.post(f"/email/quarantine/{row.pk}/retry/")
    assert response.status_code in (302, 403)
    row.refresh_from_db()
    assert row.retried_at is None


def test_an_unknown_message_is_a_404(client, manager):
    client.force_login(manager)
    assert client.get("/email/quarantine/999999/raw/").status_code == 404
    assert client.post("/email/quarantine/999999/retry/").status_code == 404
