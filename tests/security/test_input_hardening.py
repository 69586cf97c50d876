"""Hostile input through the HTML forms: over-long fields, Unicode tricks, NUL bytes,
markup. Each is either stored and shown escaped, or refused with a clear 4xx or
form message — never a 500, never a half-written ticket."""

from __future__ import annotations

import pytest
from django.test import Client

from tickets.models import Ticket, TicketEvent

TRICKY = "Printer 🖨️ down \u202egnp.exe zero\u200bwidth <script>alert(1)</script> ‮"
TRICKY_BODY = (
    "It fails with <img src=x onerror=alert(1)> and [a link](javascript:alert(1)) "
    "<iframe src=//evil.example></iframe> and an emoji 🔥 and RTL \u202etxet\u202c."
)


def _submit(client: Client, entry_category, **overrides) -> object:
    data = {
        "name": "Pat",
        "email": "pat@example.com",
        "category": entry_category.pk,
        "subject": "Laptop will not start",
        "description": "Black screen since this morning.",
        "urgency": "medium",
        "impact": "low",
        "submission_key": "",
    }
    data.update(overrides)
    return client.post("/tickets/new/", data)


@pytest.fixture
def browser():
    return Client(raise_request_exception=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("subject", "s" * 201, "at most 200 characters"),
        ("description", "d" * 20001, "at most 20000 characters"),
        ("name", "n" * 121, "at most 120 characters"),
        ("email", "e" * 250 + "@example.com", "at most 254 characters"),
        ("email", "not-an-address", "Enter a valid email address"),
        ("category", "1 OR 1=1", "Choose one of the listed categories"),
        ("category", "999999", "Choose one of the listed categories"),
        ("urgency", "critical'; --", "Choose one of the three answers"),
        ("subject", "   ", "Give your ticket a short subject"),
    ],
)
def test_ticket_form_refuses_bad_fields_with_a_message(
    browser, policies, category, field, value, message
):
    response = _submit(browser, category, **{field: value})
    assert response.status_code == 400  # the form again, with the message
    page = response.content.decode()
    assert 'class="errorlist' in page
    assert message in page
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_unicode_and_markup_are_stored_as_sent_and_shown_escaped(
    browser, policies, category, agent1
):
    response = _submit(browser, category, subject=TRICKY[:200], description=TRICKY_BODY)
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert "🖨️" in ticket.subject and "\u202e" in ticket.subject  # kept, not mangled
    pages = [browser.get(ticket.get_tracking_url()).content.decode()]
    staff = Client()
    staff.force_login(agent1)
    pages.append(staff.get(f"/agent/tickets/{ticket.reference}/").content.decode())
    pages.append(staff.get("/agent/").content.decode())
    for page in pages:
        assert "<script>alert(1)</script>" not in page
        assert "onerror" not in page
        assert "javascript:alert" not in page
        assert "<iframe" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]


@pytest.mark.django_db
def test_customer_reply_limits_and_unicode(browser, make_ticket):
    ticket = make_ticket()
    url = ticket.get_tracking_url()
    too_long = browser.post(url, {"body": "x" * 20001})
    assert too_long.status_code == 400
    assert "at most 20000 characters" in too_long.content.decode()
    blank = browser.post(url, {"body": "  \n "})
    assert blank.status_code == 400
    ok = browser.post(url, {"body": "Still broken 😢 \u202eok <b onclick=x()>bold</b>"})
    assert ok.status_code == 302
    page = browser.get(url).content.decode()
    assert "Still broken 😢" in page
    assert "onclick" not in page
    assert ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_REPLY).count() == 1


NUL_REQUESTS = [
    ("get", "/tickets/track/abc%00def/", None),
    ("get", "/tickets/submitted/%00/", None),
    ("get", "/tickets/new/?category=%00", None),
    ("get", "/kb/%00/", None),
    ("get", "/agent/tickets/TD-%00/", None),
    ("post", "/accounts/login/", {"username": "agent1\x00", "password": "pw"}),
    ("post", "/tickets/new/", {"subject": "a\x00b", "description": "x" * 20}),
    ("post", "{track}", {"body": "hello\x00"}),
    ("post", "{agent}/reply/", {"body": "hi\x00there"}),
    ("post", "{agent}/reply/", {"body": "hi", "internal": "\x00"}),
    ("post", "{agent}/escalate/", {"symptom": "a\x00", "steps_tried": "b", "findings": "c"}),
    ("post", "{agent}/resolve/", {"resolution": "done\x00"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "data"), NUL_REQUESTS)
def test_nul_bytes_anywhere_are_a_clear_400(make_ticket, agent1, method, path, data):
    ticket = make_ticket()
    client = Client(raise_request_exception=False)
    client.force_login(agent1)
    path = path.format(track=ticket.get_tracking_url(), agent=f"/agent/tickets/{ticket.reference}")
    response = getattr(client, method)(path, data or {})
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert ticket.events.count() == 1  # only CREATED: nothing half-written


@pytest.mark.django_db
def test_nul_in_api_calls_is_a_json_4xx(agent1, category):
    client = Client(raise_request_exception=False)
    client.force_login(agent1)
    # The API takes the category by slug: with a valid one, only the NULs can refuse.
    response = client.post(
        "/api/v1/tickets/",
        {"subject": "a\x00b", "description": "d\x00" * 20, "category": category.slug},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"subject", "description"}
    assert not Ticket.objects.exists()
    # A NUL in a reference is an unknown ticket (GET: the detail view allows no POST).
    response = client.get("/api/v1/tickets/TD-%00/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_agent_actions_with_hostile_text_never_500(make_ticket, agent1):
    ticket = make_ticket()
    client = Client(raise_request_exception=False)
    client.force_login(agent1)
    base = f"/agent/tickets/{ticket.reference}"
    assert client.post(f"{base}/claim/").status_code == 302
    assert client.post(f"{base}/reply/", {"body": TRICKY_BODY}).status_code == 302
    # Stored (302), or refused with a message (400): which one each body gets is fixed.
    for body, status in (("😀" * 5000, 302), ("x" * 25000, 400), ("", 400), ("\u200b", 400)):
        response = client.post(f"{base}/reply/", {"body": body})
        assert response.status_code == status, body[:20]
    response = client.post(f"{base}/escalate/", {"symptom": "", "steps_tried": "", "findings": ""})
    assert response.status_code == 400
    page = client.get(base).content.decode()
    assert "onerror" not in page and "javascript:alert" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/agent/tickets/TD-000001'%20OR%20'1'='1/",
        "/agent/tickets/" + "A" * 5000 + "/",
        "/agent/tickets/..%2F..%2Fetc%2Fpasswd/",
        "/tickets/track/" + "t" * 5000 + "/",
        "/tickets/track/%E2%80%AE%F0%9F%98%80/",
        "/attachments/99999999999999999999999/",
    ],
)
def test_hostile_urls_are_404_not_500(agent1, path):
    client = Client(raise_request_exception=False)
    client.force_login(agent1)
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_the_ticket_page_of_another_customer_is_not_reachable(make_ticket, customer):
    from tests.factories import UserFactory

    theirs = make_ticket(requester=UserFactory(username="someone-else"))
    client = Client()
    client.force_login(customer)
    assert client.get(f"/agent/tickets/{theirs.reference}/").status_code == 403
    assert client.get(f"/tickets/track/{theirs.reference}/").status_code == 404
    assert client.get(f"/tickets/track/{theirs.pk}/").status_code == 404


@pytest.mark.django_db
def test_invisible_only_text_is_refused_like_empty_text(browser, policies, category, make_ticket):
    response = _submit(browser, category, subject="\u200b\u200b", description="\u200b" * 12)
    assert response.status_code == 400
    assert "Give your ticket a short subject." in response.content.decode()
    assert not Ticket.objects.exists()
    ticket = make_ticket()
    reply = browser.post(ticket.get_tracking_url(), {"body": "\u200b\u2060"})
    assert reply.status_code == 400
    assert "Write a message first." in reply.content.decode()
