"""Ticket endpoints × roles, mass assignment, idempotency, attachments, query counts."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_add_note, ticket_claim

from .conftest import ROLES

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

ESCALATE = {"symptom": "s", "steps_tried": "t", "findings": "f"}

# (method, path suffix, body, expected status per role in ROLES order)
TIER1_MATRIX = [
    ("get", "", None, [401, 200, 404, 200, 200, 200, 200]),
    ("get", "comments/", None, [401, 200, 404, 200, 200, 200, 200]),
    ("post", "comments/", {"body": "Any news?"}, [401, 201, 404, 201, 201, 201, 201]),
    ("get", "attachments/", None, [401, 200, 404, 200, 200, 200, 200]),
    ("post", "claim/", None, [401, 403, 404, 200, 200, 200, 200]),
    ("post", "escalate/", ESCALATE, [401, 403, 404, 200, 200, 200, 200]),
    ("post", "deescalate/", {"reason": "x"}, [401, 403, 404, 400, 400, 400, 400]),
    ("post", "resolve/", {"resolution": "Reset it."}, [401, 403, 404, 200, 200, 200, 200]),
    ("post", "status/", {"status": "pending_customer"}, [401, 403, 404, 200, 200, 200, 200]),
]
TIER2_MATRIX = [
    ("get", "", None, [401, 200, 404, 404, 200, 200, 200]),
    ("get", "comments/", None, [401, 200, 404, 404, 200, 200, 200]),
    ("post", "comments/", {"body": "Any news?"}, [401, 201, 404, 404, 201, 201, 201]),
    ("post", "claim/", None, [401, 403, 404, 404, 200, 200, 200]),
    ("post", "deescalate/", {"reason": "Tier 1 script"}, [401, 403, 404, 404, 200, 200, 200]),
    ("post", "escalate/", ESCALATE, [401, 403, 404, 404, 200, 200, 200]),
    ("post", "resolve/", {"resolution": "Fixed."}, [401, 403, 404, 404, 200, 200, 200]),
]


def _cases(matrix):
    for method, suffix, body, expected in matrix:
        for role, code in zip(ROLES, expected, strict=True):
            yield pytest.param(
                method, suffix, body, role, code, id=f"{method}-{suffix or 'detail'}-{role}"
            )


def _call(client, method, url, body):
    if method == "get":
        return client.get(url)
    return client.post(url, body or {}, format="json")


@pytest.mark.parametrize(
    ("method", "suffix", "body", "role", "expected"), list(_cases(TIER1_MATRIX))
)
def test_tier1_ticket_endpoints_by_role(
    client_for, tier1_ticket, method, suffix, body, role, expected
):
    response = _call(
        client_for(role), method, f"/api/v1/tickets/{tier1_ticket.reference}/{suffix}", body
    )
    assert response.status_code == expected, response.content
    assert response["Content-Type"].startswith("application/json")
    if expected >= 400:
        body = response.json()
        # Errors name what went wrong: a detail, or the offending field(s).
        assert body and all(isinstance(v, (str, list)) for v in body.values()), body


@pytest.mark.parametrize(
    ("method", "suffix", "body", "role", "expected"), list(_cases(TIER2_MATRIX))
)
def test_tier2_ticket_endpoints_by_role(
    client_for, tier2_ticket, method, suffix, body, role, expected
):
    response = _call(
        client_for(role), method, f"/api/v1/tickets/{tier2_ticket.reference}/{suffix}", body
    )
    assert response.status_code == expected, response.content


def test_customer_gets_404_for_another_customers_ticket_by_reference(
    client_for, make_ticket, other_customer
):
    theirs = make_ticket(requester=other_customer, requester_email=other_customer.email)
    response = client_for("customer").get(f"/api/v1/tickets/{theirs.reference}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    # The same answer as a reference that does not exist at all.
    assert client_for("customer").get("/api/v1/tickets/TD-999999/").json() == {
        "detail": "Not found."
    }


def test_malformed_reference_and_unknown_paths_answer_json_404(client_for):
    client = client_for("manager")
    for url in [
        "/api/v1/tickets/%00/",
        "/api/v1/tickets/a%2Fb/claim/",
        "/api/v1/nope/",
        "/api/v1/tickets//",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["detail"] == "Not found."


def test_escalate_moves_the_ticket_and_records_the_handoff(client_for, tier1_ticket):
    from tests.factories import ArticleFactory

    ArticleFactory(slug="reset-password")  # only articles the agent may read are kept
    response = client_for("agent1").post(
        f"/api/v1/tickets/{tier1_ticket.reference}/escalate/",
        {**ESCALATE, "articles": ["reset-password"], "expected_tier": 1},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["tier"] == 2
    event = tier1_ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
    assert event.data["handoff"]["articles"] == ["reset-password"]


def test_escalate_without_findings_names_the_missing_fields(client_for, tier1_ticket):
    response = client_for("agent1").post(
        f"/api/v1/tickets/{tier1_ticket.reference}/escalate/", {"symptom": "s"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"steps_tried", "findings"}


def test_escalate_with_stale_expected_tier_is_a_conflict(client_for, tier2_ticket):
    response = client_for("agent2").post(
        f"/api/v1/tickets/{tier2_ticket.reference}/escalate/",
        {**ESCALATE, "expected_tier": 1},
        format="json",
    )
    assert response.status_code == 409
    assert "already at Tier 2" in response.json()["detail"]


def test_claim_taken_by_someone_else_is_a_conflict(client_for, tier1_ticket, agent2):
    ticket_claim(ticket=tier1_ticket, agent=agent2)
    response = client_for("agent1").post(f"/api/v1/tickets/{tier1_ticket.reference}/claim/")
    assert response.status_code == 409
    assert "agent2" in response.json()["detail"]


def test_resolve_with_article_and_unknown_article(client_for, tier1_ticket):
    from tests.factories import ArticleFactory

    ArticleFactory(slug="reset-password")
    url = f"/api/v1/tickets/{tier1_ticket.reference}/resolve/"
    bad = client_for("agent1").post(url, {"resolution": "x", "article": "nope"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["article"] == ["No published article with this slug."]
    ok = client_for("agent1").post(
        url, {"resolution": "x", "article": "reset-password"}, format="json"
    )
    assert ok.status_code == 200
    assert ok.json()["status"] == "resolved"
    tier1_ticket.refresh_from_db()
    assert tier1_ticket.resolved_article.slug == "reset-password"


def test_status_change_refused_for_an_unreachable_status(client_for, tier1_ticket):
    response = client_for("agent1").post(
        f"/api/v1/tickets/{tier1_ticket.reference}/status/", {"status": "closed"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()


# ---------------------------------------------------------------------------
# Comments
# ---------------------------------------------------------------------------


def test_customer_does_not_see_internal_notes(client_for, tier1_ticket, agent1):
    ticket_add_note(ticket=tier1_ticket, agent=agent1, body="Secret: AD lockout policy")
    customer_view = client_for("customer").get(
        f"/api/v1/tickets/{tier1_ticket.reference}/comments/"
    )
    agent_view = client_for("agent1").get(f"/api/v1/tickets/{tier1_ticket.reference}/comments/")
    assert "Secret" not in customer_view.content.decode()
    assert any(e["internal"] and "Secret" in e["body"] for e in agent_view.json())


def test_customer_cannot_post_internal_notes(client_for, tier1_ticket):
    response = client_for("customer").post(
        f"/api/v1/tickets/{tier1_ticket.reference}/comments/",
        {"body": "hi", "internal": True},
        format="json",
    )
    assert response.status_code == 403
    assert not tier1_ticket.events.filter(kind=TicketEvent.Kind.NOTE).exists()


def test_agent_note_is_internal_and_reply_is_public(client_for, tier1_ticket):
    url = f"/api/v1/tickets/{tier1_ticket.reference}/comments/"
    note = client_for("agent1").post(url, {"body": "checked AD", "internal": True}, format="json")
    reply = client_for("agent1").post(url, {"body": "Try again now"}, format="json")
    assert note.json()["internal"] is True and note.json()["kind"] == "note"
    assert reply.json()["internal"] is False and reply.json()["kind"] == "reply"


def test_customer_reply_reopens_a_resolved_ticket(client_for, tier1_ticket, agent1):
    from tickets.services import ticket_resolve

    ticket_resolve(ticket=tier1_ticket, actor=agent1, resolution="done")
    response = client_for("customer").post(
        f"/api/v1/tickets/{tier1_ticket.reference}/comments/",
        {"body": "Still broken"},
        format="json",
    )
    assert response.status_code == 201
    tier1_ticket.refresh_from_db()
    assert tier1_ticket.status == Ticket.Status.NEW
    assert tier1_ticket.reopen_count == 1


def test_empty_comment_is_refused_with_a_message(client_for, tier1_ticket):
    response = client_for("customer").post(
        f"/api/v1/tickets/{tier1_ticket.reference}/comments/", {"body": "   "}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["body"]


# ---------------------------------------------------------------------------
# Create: mass assignment and idempotency
# ---------------------------------------------------------------------------

NEW_TICKET = {
    "category": "password-reset",
    "subject": "Locked out",
    "description": "My account is locked since this morning.",
    "urgency": "high",
    "impact": "high",
}


@pytest.mark.parametrize("role", ["customer", "agent1", "manager"])
def test_customers_and_agents_create_tickets(client_for, policies, category, users, role):
    response = client_for(role).post("/api/v1/tickets/", NEW_TICKET, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("TD-")
    assert body["tier"] == 1 and body["status"] == "new"
    assert body["priority"] == "urgent"  # high urgency + high impact
    ticket = Ticket.objects.get(reference=body["reference"])
    assert ticket.requester == users[role]
    assert ticket.events.get(kind="created").data["via"] == "api"


def test_anonymous_cannot_create(client_for, category):
    assert (
        client_for("anonymous").post("/api/v1/tickets/", NEW_TICKET, format="json").status_code
        == 401
    )
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("tier", 3), ("assignee", "agent3"), ("status", "resolved"), ("priority", "urgent")],
)
def test_customer_cannot_mass_assign(client_for, policies, category, field, value):
    response = client_for("customer").post(
        "/api/v1/tickets/",
        {**NEW_TICKET, "urgency": "low", "impact": "low", field: value},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Ticket.objects.exists()


def test_customer_priority_comes_only_from_urgency_and_impact(client_for, policies, category):
    response = client_for("customer").post(
        "/api/v1/tickets/", {**NEW_TICKET, "urgency": "low", "impact": "low"}, format="json"
    )
    assert response.json()["priority"] == "low"
    assert response.json()["tier"] == 1 and response.json()["assignee"] is None


def test_agent_may_set_priority_but_never_tier_or_assignee(client_for, policies, category):
    ok = client_for("agent1").post(
        "/api/v1/tickets/",
        {
            **NEW_TICKET,
            "priority": "low",
            "requester_name": "Sam Caller",
            "requester_email": "sam@example.com",
        },
        format="json",
    )
    assert ok.status_code == 201
    assert ok.json()["priority"] == "low" and ok.json()["requester_name"] == "Sam Caller"
    assert Ticket.objects.get(reference=ok.json()["reference"]).requester is None
    refused = client_for("agent1").post(
        "/api/v1/tickets/", {**NEW_TICKET, "tier": 2}, format="json"
    )
    assert refused.status_code == 400


def test_invalid_create_input_gets_a_message_per_field(client_for, category):
    response = client_for("customer").post(
        "/api/v1/tickets/",
        {"category": "nope", "subject": "", "description": "short"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"category", "subject", "description"}


def test_idempotency_key_returns_the_same_ticket(client_for, policies, category):
    client = client_for("customer")
    first = client.post("/api/v1/tickets/", NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = client.post("/api/v1/tickets/", NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["reference"] == again.json()["reference"]
    assert Ticket.objects.count() == 1
    # Another user's identical key is theirs alone: a new ticket, not a peek at this one.
    other = client_for("other_customer").post(
        "/api/v1/tickets/", NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert other.status_code == 201 and other.json()["reference"] != first.json()["reference"]


def test_overlong_idempotency_key_is_refused(client_for, category):
    response = client_for("customer").post(
        "/api/v1/tickets/", NEW_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="k" * 65
    )
    assert response.status_code == 400


# ---------------------------------------------------------------------------
# List: visibility, filters, cursor pagination, query counts
# ---------------------------------------------------------------------------


def _refs(response):
    return {t["reference"] for t in response.json()["results"]}


def test_list_visibility_by_role(
    client_for, tier1_ticket, tier2_ticket, make_ticket, other_customer
):
    theirs = make_ticket(requester=other_customer, requester_email=other_customer.email)
    assert client_for("anonymous").get("/api/v1/tickets/").status_code == 401
    assert _refs(client_for("customer").get("/api/v1/tickets/")) == {
        tier1_ticket.reference,
        tier2_ticket.reference,
    }
    assert _refs(client_for("other_customer").get("/api/v1/tickets/")) == {theirs.reference}
    assert _refs(client_for("agent1").get("/api/v1/tickets/")) == {
        tier1_ticket.reference,
        theirs.reference,
    }
    everything = {tier1_ticket.reference, tier2_ticket.reference, theirs.reference}
    assert _refs(client_for("agent2").get("/api/v1/tickets/")) == everything
    assert _refs(client_for("manager").get("/api/v1/tickets/")) == everything


def test_customers_do_not_see_staff_fields(client_for, tier1_ticket, agent1):
    ticket_claim(ticket=tier1_ticket, agent=agent1)
    customer = client_for("customer").get(f"/api/v1/tickets/{tier1_ticket.reference}/").json()
    agent = client_for("agent1").get(f"/api/v1/tickets/{tier1_ticket.reference}/").json()
    assert customer["assignee"] is None and customer["escalate_at"] is None
    assert agent["assignee"] == "agent1" and agent["escalate_at"]


def test_list_filters(client_for, tier1_ticket, tier2_ticket, agent2):
    ticket_claim(ticket=tier2_ticket, agent=agent2)
    client = client_for("manager")
    assert _refs(client.get("/api/v1/tickets/?tier=2")) == {tier2_ticket.reference}
    assert _refs(client.get("/api/v1/tickets/?assignee=agent2")) == {tier2_ticket.reference}
    assert _refs(client.get("/api/v1/tickets/?status=new")) == {tier1_ticket.reference}
    assert _refs(client.get("/api/v1/tickets/?q=VPN")) == {tier2_ticket.reference}
    assert _refs(client.get(f"/api/v1/tickets/?q={tier1_ticket.reference}")) == {
        tier1_ticket.reference
    }
    assert _refs(client.get("/api/v1/tickets/?category=password-reset")) == {
        tier1_ticket.reference,
        tier2_ticket.reference,
    }
    assert _refs(client.get("/api/v1/tickets/?priority=urgent")) == set()


@pytest.mark.parametrize(
    "query",
    ["tier=9", "status=bogus", "priority=x", "assignee=a%20b", "ordering=-id&tier=x", "q=%00"],
)
def test_invalid_filters_are_400(client_for, query):
    response = client_for("manager").get(f"/api/v1/tickets/?{query}")
    assert response.status_code == 400


def test_cursor_pagination_walks_every_ticket_once(client_for, make_ticket, customer):
    made = {make_ticket(requester=customer, subject=f"Problem {i}").reference for i in range(7)}
    client = client_for("customer")
    seen: list[str] = []
    url = "/api/v1/tickets/?page_size=3"
    while url:
        page = client.get(url).json()
        seen += [t["reference"] for t in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7 and set(seen) == made
    # Newest first.
    ids = [int(ref[3:]) for ref in seen]
    assert ids == sorted(ids, reverse=True)


def test_bad_cursor_is_404_not_500(client_for):
    assert client_for("manager").get("/api/v1/tickets/?cursor=garbage").status_code == 404


@pytest.mark.parametrize("role", ["customer", "agent1", "manager"])
def test_list_query_count_does_not_grow_with_tickets(
    client_for, make_ticket, customer, agent1, role, django_assert_max_num_queries
):
    for i in range(40):
        ticket = make_ticket(requester=customer, subject=f"Problem {i}")
        if i % 2:
            ticket_claim(ticket=ticket, agent=agent1)
    client = client_for(role)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/tickets/?page_size=50")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 40


def test_timeline_query_count_is_bounded(
    client_for, tier1_ticket, agent1, django_assert_max_num_queries
):
    for i in range(20):
        ticket_add_note(ticket=tier1_ticket, agent=agent1, body=f"note {i}")
    client = client_for("agent1")
    with django_assert_max_num_queries(8):
        response = client.get(f"/api/v1/tickets/{tier1_ticket.reference}/comments/")
    assert len(response.json()) == 21


# ---------------------------------------------------------------------------
# Attachments
# ---------------------------------------------------------------------------


def _upload(client, ticket, name="error.png", content=PNG, **extra):
    return client.post(
        f"/api/v1/tickets/{ticket.reference}/attachments/",
        {"file": SimpleUploadedFile(name, content), **extra},
        format="multipart",
    )


def test_customer_uploads_and_lists_attachments(client_for, tier1_ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = _upload(client_for("customer"), tier1_ticket)
    assert response.status_code == 201, response.content
    [item] = response.json()
    assert item["name"] == "error.png" and item["internal"] is False
    listed = (
        client_for("agent1").get(f"/api/v1/tickets/{tier1_ticket.reference}/attachments/").json()
    )
    assert [a["id"] for a in listed] == [item["id"]]
    assert tier1_ticket.events.filter(kind=TicketEvent.Kind.ATTACHMENT).count() == 1


def test_internal_attachments_are_agents_only(client_for, tier1_ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assert _upload(client_for("customer"), tier1_ticket, internal=True).status_code == 403
    assert _upload(client_for("agent1"), tier1_ticket, internal=True).status_code == 201
    assert (
        client_for("customer").get(f"/api/v1/tickets/{tier1_ticket.reference}/attachments/").json()
        == []
    )
    assert (
        len(
            client_for("agent1")
            .get(f"/api/v1/tickets/{tier1_ticket.reference}/attachments/")
            .json()
        )
        == 1
    )


def test_bad_uploads_are_refused_with_a_message(client_for, tier1_ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = client_for("customer")
    html = _upload(client, tier1_ticket, name="x.txt", content=b"<html><script>alert(1)</script>")
    exe = _upload(client, tier1_ticket, name="x.exe", content=b"MZ....")
    fake_png = _upload(client, tier1_ticket, name="x.png", content=b"not a png at all")
    for response in (html, exe, fake_png):
        assert response.status_code == 400
        assert response.json()["detail"]
    missing = client.post(
        f"/api/v1/tickets/{tier1_ticket.reference}/attachments/", {}, format="multipart"
    )
    assert missing.status_code == 400 and "file" in missing.json()
    assert not tier1_ticket.attachments.exists()


@pytest.mark.parametrize(
    ("role", "expected_tier1", "expected_tier2"),
    [
        ("anonymous", 401, 401),
        ("customer", 201, 201),
        ("other_customer", 404, 404),
        ("agent1", 201, 404),
        ("agent2", 201, 201),
        ("agent3", 201, 201),
        ("manager", 201, 201),
    ],
)
def test_upload_by_role(
    client_for, tier1_ticket, tier2_ticket, settings, tmp_path, role, expected_tier1, expected_tier2
):
    settings.MEDIA_ROOT = tmp_path
    assert _upload(client_for(role), tier1_ticket).status_code == expected_tier1
    assert _upload(client_for(role), tier2_ticket).status_code == expected_tier2


# ---------------------------------------------------------------------------
# Me
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("customer", {"role": "customer", "tier": None}),
        ("other_customer", {"role": "customer", "tier": None}),
        ("agent1", {"role": "agent", "tier": 1}),
        ("agent2", {"role": "agent", "tier": 2}),
        ("agent3", {"role": "agent", "tier": 3}),
        ("manager", {"role": "manager", "tier": 3}),
    ],
)
def test_me(client_for, users, role, expected):
    body = client_for(role).get("/api/v1/me/").json()
    assert body["username"] == users[role].username
    assert {k: body[k] for k in expected} == expected
    assert body["auth"] == "session"


def test_me_anonymous_is_401_with_a_challenge():
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_session_writes_need_csrf(users, tier1_ticket):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(users["agent1"])
    response = client.post(f"/api/v1/tickets/{tier1_ticket.reference}/claim/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
