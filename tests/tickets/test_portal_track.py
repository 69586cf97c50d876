"""The tracking page: what the customer sees and does, who else cannot get in, and
what the customer is e-mailed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import UserFactory
from tickets.models import Attachment, Notification, SatisfactionRating, Ticket, TicketEvent
from tickets.services import (
    ticket_add_note,
    ticket_change_status,
    ticket_claim,
    ticket_escalate,
    ticket_reply,
    ticket_resolve,
)
from tickets.services.attachments import attachment_add

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _own_cache(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"portal-{uuid.uuid4().hex}",
        }
    }
    settings.MEDIA_ROOT = tmp_path


def url(ticket: Ticket, action: str = "") -> str:
    return f"/tickets/track/{ticket.tracking_token}/" + (f"{action}/" if action else "")


# ---------------------------------------------------------------------------
# What the page shows
# ---------------------------------------------------------------------------


@time_machine.travel(T0, tick=False)
def test_page_shows_status_in_words_tier_journey_and_next_update(
    client, make_ticket, agent1, agent2
):
    ticket = make_ticket()
    html = client.get(url(ticket)).content.decode()
    assert "We have your request" in html
    assert "with our help desk" in html
    assert "Next update due by" in html and "Monday 23 November, 13:00" in html  # 4 h SLA

    ticket_claim(ticket=ticket, agent=agent1)
    ticket_escalate(
        ticket=ticket,
        actor=agent1,
        symptom="SECRET-SYMPTOM",
        steps_tried="SECRET-STEPS",
        findings="SECRET-FINDINGS",
    )
    ticket_add_note(ticket=ticket, agent=agent2, body="INTERNAL-NOTE-TEXT")
    html = client.get(url(ticket)).content.decode()
    assert "with our technical team" in html
    journey = html.split('class="journey"')[1].split("</ol>")[0]
    assert "With our help desk" in journey and "With our technical team" in journey
    assert 'aria-current="step">With our technical team' in journey
    for secret in ("SECRET-SYMPTOM", "SECRET-STEPS", "SECRET-FINDINGS", "INTERNAL-NOTE-TEXT"):
        assert secret not in html


def test_public_events_marked_internal_kinds_never_show(client, make_ticket):
    """Even a hand-off written as public by mistake stays off the customer's page."""
    from tickets.services import ticket_event_create

    ticket = make_ticket()
    ticket_event_create(ticket=ticket, kind=Kind.NOTE, body="LEAKED-NOTE", is_public=True)
    ticket_event_create(ticket=ticket, kind=Kind.VENDOR_UPDATE, body="VENDOR-INTERNAL")
    ticket_event_create(ticket=ticket, kind=Kind.DEESCALATED, body="DOWN-REASON", is_public=True)
    ticket_event_create(
        ticket=ticket, kind=Kind.VENDOR_UPDATE, body="Part shipped today", is_public=True
    )
    html = client.get(url(ticket)).content.decode()
    for secret in ("LEAKED-NOTE", "VENDOR-INTERNAL", "DOWN-REASON"):
        assert secret not in html
    assert "Update from the equipment vendor" in html and "Part shipped today" in html


def test_reply_with_attachment_resumes_a_waiting_ticket(client, make_ticket, agent1):
    ticket = make_ticket()
    ticket_claim(ticket=ticket, agent=agent1)
    ticket_reply(ticket=ticket, agent=agent1, body="Which model is it?", pending_customer=True)
    upload = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    response = client.post(url(ticket), {"body": "A ThinkPad T14.", "attachments": [upload]})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"
    event = ticket.events.get(kind=Kind.CUSTOMER_REPLY)
    assert event.body == "A ThinkPad T14." and event.actor_name == "Pat Customer"
    assert event.attachments.get().original_name == "photo.png"
    html = client.get(url(ticket)).content.decode()
    assert "A ThinkPad T14." in html and "photo.png" in html
    assert "Your reply was sent" in html


def test_empty_reply_or_bad_file_is_refused_next_to_the_field(client, make_ticket):
    ticket = make_ticket()
    response = client.post(url(ticket), {"body": "   "})
    assert response.status_code == 400
    assert 'id="id_body_error"' in response.content.decode()
    bad = SimpleUploadedFile("fake.png", b"<html><script>x</script>", content_type="image/png")
    response = client.post(url(ticket), {"body": "see file", "attachments": [bad]})
    assert response.status_code == 400
    assert "does not look like a .png file" in response.content.decode()
    assert not ticket.events.filter(kind=Kind.CUSTOMER_REPLY).exists()
    assert Attachment.objects.count() == 0


def test_replies_over_the_limit_get_429(client, make_ticket, settings):
    settings.PORTAL_REPLY_LIMIT_PER_IP = 2
    ticket = make_ticket()
    for i in range(2):
        assert client.post(url(ticket), {"body": f"reply {i}"}).status_code == 302
    response = client.post(url(ticket), {"body": "one more"})
    assert response.status_code == 429 and response["Retry-After"]
    assert ticket.events.filter(kind=Kind.CUSTOMER_REPLY).count() == 2


def test_resolve_reopen_loops_share_the_reply_limit(client, make_ticket, settings):
    settings.PORTAL_REPLY_LIMIT_PER_IP = 3
    ticket = make_ticket()
    client.post(url(ticket, "solved"))
    client.post(url(ticket, "reopen"))
    client.post(url(ticket, "solved"))
    response = client.post(url(ticket, "reopen"))
    assert response.status_code == 429
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.reopen_count == 1


def test_tracking_page_is_never_cached(client, make_ticket):
    response = client.get(url(ticket := make_ticket()))
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert ticket.reference in response.content.decode()


# ---------------------------------------------------------------------------
# Solved, reopen, rating
# ---------------------------------------------------------------------------


def test_this_solved_my_problem_resolves_then_closes(client, make_ticket):
    ticket = make_ticket()
    assert client.post(url(ticket, "solved")).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.resolved_by is None
    assert ticket.escalate_at is None and not ticket.first_contact_resolution
    html = client.get(url(ticket)).content.decode()
    assert "How did we do?" in html and "You marked the problem as solved" in html
    client.post(url(ticket, "solved"))
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_rating_once_per_resolution(client, make_ticket, agent1):
    ticket = make_ticket()
    ticket_claim(ticket=ticket, agent=agent1)
    # Not resolved yet: no rating.
    response = client.post(url(ticket, "rate"), {"rating": "5"})
    assert response.status_code == 400
    ticket_resolve(ticket=ticket, actor=agent1, resolution="Reset the password.")
    # The e-mail's "4" link preselects 4 on the page.
    page = client.get(url(ticket) + "?rating=4").content.decode()
    assert re.search(r'<input type="radio" name="rating" value="4"[^>]*checked', page)

    response = client.post(url(ticket, "rate"), {"rating": "4", "comment": "Quick, thanks"})
    assert response.status_code == 302
    rating = SatisfactionRating.objects.get()
    assert (rating.rating, rating.resolution_round, rating.resolved_by) == (4, 0, agent1)
    assert ticket.events.filter(kind=Kind.CSAT).count() == 1
    assert "How did we do?" not in client.get(url(ticket)).content.decode()

    again = client.post(url(ticket, "rate"), {"rating": "1"})
    assert again.status_code == 400
    assert SatisfactionRating.objects.count() == 1

    # Reopened and resolved again: a new resolution, a new rating.
    client.post(url(ticket, "reopen"), {"reason": "It broke again"})
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.reopen_count == 1
    ticket_resolve(ticket=ticket, actor=agent1, resolution="Replaced the cable.")
    assert client.post(url(ticket, "rate"), {"rating": "5"}).status_code == 302
    assert list(
        SatisfactionRating.objects.order_by("resolution_round").values_list("rating", flat=True)
    ) == [4, 5]


def test_rating_out_of_range_is_refused(client, make_ticket):
    ticket = make_ticket()
    client.post(url(ticket, "solved"))
    response = client.post(url(ticket, "rate"), {"rating": "9"})
    assert response.status_code == 400
    assert 'id="id_rating_error"' in response.content.decode()
    assert SatisfactionRating.objects.count() == 0


def test_reopen_only_when_resolved(client, make_ticket):
    ticket = make_ticket()
    response = client.post(url(ticket, "reopen"), {"reason": "x"}, follow=True)
    assert "Only a resolved ticket can be reopened." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "new" and ticket.reopen_count == 0


# ---------------------------------------------------------------------------
# Request escalation
# ---------------------------------------------------------------------------


def test_escalation_request_needs_overdue_or_urgent_and_a_reason(client, make_ticket):
    ticket = make_ticket()
    response = client.post(url(ticket, "escalate"), {"reason": "Please hurry"})
    assert response.status_code == 400
    assert "not overdue yet" in response.content.decode()
    response = client.post(url(ticket, "escalate"), {"reason": " ", "urgent": "on"})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()
    assert not ticket.events.filter(kind=Kind.ESCALATION_REQUESTED).exists()


def test_urgent_escalation_request_tells_tier_and_managers_once_a_day(
    client, make_ticket, agent1, agent2, manager, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                url(ticket, "escalate"), {"reason": "The CEO needs it now", "urgent": "on"}
            )
        assert response.status_code == 302
        ticket.refresh_from_db()
        assert ticket.tier == 1  # never bumps the tier
        event = ticket.events.get(kind=Kind.ESCALATION_REQUESTED)
        assert event.notify and event.notified_at is not None
        told = set(
            Notification.objects.filter(event=event).values_list("user__username", flat=True)
        )
        assert told == {"agent1", "manager"}  # Tier 1 and the managers, not Tier 2
        html = client.get(url(ticket)).content.decode()
        assert "You asked for escalation" in html and "The CEO needs it now" in html

        again = client.post(url(ticket, "escalate"), {"reason": "Again", "urgent": "on"})
        assert again.status_code == 400
        assert "already asked for escalation" in again.content.decode()
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        assert (
            client.post(url(ticket, "escalate"), {"reason": "Still", "urgent": "on"}).status_code
            == 302
        )
    assert ticket.events.filter(kind=Kind.ESCALATION_REQUESTED).count() == 2


def test_overdue_ticket_may_ask_without_urgency(client, make_ticket):
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket()
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):  # first response was due at 4 h
        html = client.get(url(ticket)).content.decode()
        assert "are late" in html
        response = client.post(url(ticket, "escalate"), {"reason": "No answer yet"})
        assert response.status_code == 302
    event = ticket.events.get(kind=Kind.ESCALATION_REQUESTED)
    assert event.data["overdue"] is True


# ---------------------------------------------------------------------------
# Nobody else gets in
# ---------------------------------------------------------------------------


def test_another_customer_cannot_open_the_ticket_or_its_files(client, make_ticket, customer):
    other = UserFactory(username="other", email="other@example.com")
    ticket = make_ticket(requester=other, requester_email="other@example.com")
    created = ticket.events.get(kind=Kind.CREATED)
    attachment = attachment_add(
        ticket=ticket,
        upload=SimpleUploadedFile("secret.png", PNG, content_type="image/png"),
        event=created,
    )
    token = ticket.tracking_token
    near_miss = token[:-1] + ("B" if token[-1] == "A" else "A")
    mine = make_ticket(requester=customer, requester_email="customer@example.com")
    client.force_login(customer)
    guesses = [
        f"/tickets/track/{ticket.reference}/",
        f"/tickets/track/{ticket.pk}/",
        f"/tickets/track/{near_miss}/",
        f"/tickets/track/{'x' * 43}/",
        f"/tickets/submitted/{ticket.reference}/",
        f"/attachments/{attachment.pk}/",
        f"/tickets/track/{mine.tracking_token}/attachments/{attachment.pk}/",
        f"/tickets/track/{ticket.reference}/attachments/{attachment.pk}/",
    ]
    for path in guesses:
        response = client.get(path)
        assert response.status_code == 404, path
        assert ticket.subject not in response.content.decode() or path.startswith("/attachments")
    assert client.post(f"/tickets/track/{ticket.reference}/", {"body": "hi"}).status_code == 404
    # The agent workspace is closed to customers altogether.
    assert client.get(f"/agent/tickets/{ticket.reference}/").status_code in (403, 404)
    html = client.get("/tickets/mine/").content.decode()
    assert mine.reference in html and ticket.reference not in html


def test_owner_downloads_own_attachment_as_a_download(client, make_ticket, customer):
    ticket = make_ticket(requester=customer)
    attachment = attachment_add(
        ticket=ticket, upload=SimpleUploadedFile("shot.png", PNG, content_type="image/png")
    )
    response = client.get(f"/tickets/track/{ticket.tracking_token}/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    client.force_login(customer)
    assert client.get(f"/attachments/{attachment.pk}/").status_code == 200


# ---------------------------------------------------------------------------
# Stored XSS renders inert
# ---------------------------------------------------------------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_stored_xss_in_subject_description_reply_and_filename_is_inert(
    client, make_ticket, customer, agent1
):
    ticket = make_ticket(
        requester=customer,
        subject=f"Help {XSS}",
        description=f"Body {XSS} [click](javascript:alert(1)) <svg onload=alert(2)>",
    )
    client.post(url(ticket), {"body": f"Reply {XSS}"})
    attachment_add(
        ticket=ticket,
        upload=SimpleUploadedFile(
            '"><img src=x onerror=alert(3)>.png', PNG, content_type="image/png"
        ),
        event=ticket.events.get(kind=Kind.CREATED),
    )
    client.force_login(customer)
    for path in (url(ticket), "/tickets/mine/", f"/tickets/submitted/{ticket.tracking_token}/"):
        html = client.get(path).content.decode()
        assert "<script>alert" not in html, path
        assert "<img src=x onerror" not in html and '<img src="x" onerror' not in html, path
        assert "javascript:alert" not in html, path
        assert "<svg" not in html, path
    html = client.get(url(ticket)).content.decode()
    assert "&lt;script&gt;" in html  # the subject is shown, escaped


# ---------------------------------------------------------------------------
# Query counts
# ---------------------------------------------------------------------------


def test_tracking_page_query_count_does_not_grow_with_events(
    client, make_ticket, agent1, django_assert_max_num_queries
):
    ticket = make_ticket()
    ticket_claim(ticket=ticket, agent=agent1)
    for i in range(30):
        event = ticket_reply(ticket=ticket, agent=agent1, body=f"Reply **{i}**")
        attachment_add(
            ticket=ticket,
            event=event,
            upload=SimpleUploadedFile(f"f{i}.png", PNG, content_type="image/png"),
        )
        ticket_add_note(ticket=ticket, agent=agent1, body=f"note {i}")
    ticket_change_status(ticket=ticket, actor=agent1, status="pending_customer")
    with django_assert_max_num_queries(4):  # ticket, events, attachments (was 6)
        response = client.get(url(ticket))
    assert response.content.decode().count("Reply <strong>") == 30


def test_my_tickets_query_count_does_not_grow_with_tickets(
    client, make_ticket, customer, django_assert_max_num_queries
):
    for i in range(40):
        make_ticket(requester=customer, subject=f"Problem {i}")
    client.force_login(customer)
    with django_assert_max_num_queries(6):  # measured: 5
        response = client.get("/tickets/mine/")
    assert response.content.decode().count("/tickets/track/") == 40


# ---------------------------------------------------------------------------
# E-mails to the customer
# ---------------------------------------------------------------------------


def test_customer_is_emailed_on_reply_status_and_resolution_with_the_link(
    make_ticket, agent1, mailoutbox, django_capture_on_commit_callbacks
):
    agent1.first_name = "Sam"
    agent1.save()
    ticket = make_ticket()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_claim(ticket=ticket, agent=agent1)
        ticket_reply(ticket=ticket, agent=agent1, body="Try **restarting**.")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_change_status(
            ticket=ticket, actor=agent1, status="pending_customer", reason="Which laptop?"
        )
    with django_capture_on_commit_callbacks(execute=True):
        ticket_resolve(ticket=ticket, actor=agent1, resolution="Restarted, works.")
    bodies = [m.body for m in mailoutbox]
    assert len(bodies) == 3, bodies
    reply, waiting, resolved = bodies
    assert "Sam replied to your request" in reply and "Try **restarting**." in reply
    assert "<strong>restarting</strong>" in mailoutbox[0].alternatives[0][0]
    assert "we need something from you" in waiting and "Which laptop?" in waiting
    assert "we have resolved your request" in resolved and "Restarted, works." in resolved
    assert f"{ticket.get_tracking_url()}?rating=5#rate" in resolved
    for mail in mailoutbox:
        assert ticket.get_tracking_url() in mail.body
        assert ticket.get_tracking_url() in mail.alternatives[0][0]
        assert mail.to == ["pat@example.com"]


def test_resolved_with_a_public_article_links_it_but_never_an_internal_one(
    client, make_ticket, agent1
):
    from tests.factories import ArticleFactory

    public = ArticleFactory(title="Unlock your account", slug="unlock")
    internal = ArticleFactory(title="AD unlock script", slug="ad-unlock", audience="internal")
    first, second = make_ticket(), make_ticket(subject="Other")
    for ticket, article in ((first, public), (second, internal)):
        ticket_claim(ticket=ticket, agent=agent1)
        ticket_resolve(ticket=ticket, actor=agent1, resolution="Unlocked.", article=article)
    assert "/kb/unlock/" in client.get(url(first)).content.decode()
    html = client.get(url(second)).content.decode()
    assert "ad-unlock" not in html and "AD unlock script" not in html
