"""Personal API tokens: hashed at rest, shown once, revocable, expiring, last use recorded."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiToken
from integrations.scopes import ALL_SCOPES
from integrations.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def bearer(raw: str, keyword: str = "Bearer") -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {raw}")
    return client


def test_token_is_random_and_stored_only_as_its_sha256(customer):
    token, raw = api_token_create(user=customer, name="cli", scopes=ALL_SCOPES)
    assert raw.startswith("tdk_") and len(raw) >= 4 + 43  # 32 random bytes, url-safe
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert all(raw not in str(value) for value in row.values())
    assert row["prefix"] == raw[:12]
    _, other = api_token_create(user=customer, name="cli", scopes=ALL_SCOPES)
    assert other != raw


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_token_authenticates_as_its_user(customer, keyword):
    _, raw = api_token_create(user=customer, name="cli", scopes=ALL_SCOPES)
    response = bearer(raw, keyword).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "customer" and response.json()["auth"] == "token"


def test_token_writes_need_no_csrf(agent1, make_ticket):
    ticket = make_ticket()
    _, raw = api_token_create(user=agent1, name="bot", scopes=ALL_SCOPES)
    response = bearer(raw).post(f"/api/v1/tickets/{ticket.reference}/claim/")
    assert response.status_code == 200 and response.json()["assignee"] == "agent1"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer tdk_wrong",
        "Bearer nottdk",
        "Bearer",
        "Bearer a b",
        "Token " + "x" * 500,
        "Bearer tdk_é",
    ],
)
def test_bad_tokens_are_401(customer, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_revoked_token_is_refused(customer):
    token, raw = api_token_create(user=customer, name="cli", scopes=ALL_SCOPES)
    assert bearer(raw).get("/api/v1/me/").status_code == 200
    api_token_revoke(user=customer, token_id=token.pk)
    response = bearer(raw).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid, expired or revoked token."


def test_expired_token_is_refused(customer):
    _, raw = api_token_create(
        user=customer, name="cli", scopes=ALL_SCOPES, expires_at=timezone.now() + timedelta(days=1)
    )
    assert bearer(raw).get("/api/v1/me/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert bearer(raw).get("/api/v1/me/").status_code == 401


def test_token_of_a_deactivated_user_is_refused(customer):
    _, raw = api_token_create(user=customer, name="cli", scopes=ALL_SCOPES)
    customer.is_active = False
    customer.save()
    assert bearer(raw).get("/api/v1/me/").status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(customer):
    token, raw = api_token_create(user=customer, name="cli", scopes=ALL_SCOPES)
    assert token.last_used_at is None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        bearer(raw).get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        bearer(raw).get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        bearer(raw).get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


def test_token_user_sees_only_their_tickets(customer, other_customer, make_ticket):
    mine = make_ticket(requester=customer)
    theirs = make_ticket(requester=other_customer)
    _, raw = api_token_create(user=customer, name="cli", scopes=ALL_SCOPES)
    client = bearer(raw)
    assert client.get(f"/api/v1/tickets/{theirs.reference}/").status_code == 404
    assert [t["reference"] for t in client.get("/api/v1/tickets/").json()["results"]] == [
        mine.reference
    ]


# ---------------------------------------------------------------------------
# The /accounts/tokens/ page
# ---------------------------------------------------------------------------


def test_token_page_needs_login(client):
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_create_shows_the_secret_once_and_it_works(client, customer):
    client.force_login(customer)
    page = client.get("/accounts/tokens/")
    assert page.status_code == 200 and b"You have no API tokens yet" in page.content
    created = client.post(
        "/accounts/tokens/", {"name": "Monitoring", "expires_in": "30", "scopes": ["read"]}
    )
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    html = created.content.decode()
    assert "shown only once" in html
    token = ApiToken.objects.get(user=customer)
    raw = html.split('id="new-token" class="token-value" value="')[1].split('"')[0]
    assert hashlib.sha256(raw.encode()).hexdigest() == token.key_hash
    assert token.expires_at is not None
    again = client.get("/accounts/tokens/").content.decode()
    assert raw not in again and token.prefix in again and "Monitoring" in again
    assert bearer(raw).get("/api/v1/me/").status_code == 200


def test_create_without_name_shows_an_error(client, customer):
    client.force_login(customer)
    response = client.post("/accounts/tokens/", {"name": "  ", "expires_in": "never"})
    assert b"This field is required." in response.content
    assert not ApiToken.objects.exists()


def test_revoke_from_the_page(client, customer):
    token, raw = api_token_create(user=customer, name="old script", scopes=ALL_SCOPES)
    client.force_login(customer)
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(raw).get("/api/v1/me/").status_code == 401


def test_cannot_revoke_someone_elses_token(client, customer, other_customer):
    token, raw = api_token_create(user=customer, name="mine", scopes=ALL_SCOPES)
    client.force_login(other_customer)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert bearer(raw).get("/api/v1/me/").status_code == 200
