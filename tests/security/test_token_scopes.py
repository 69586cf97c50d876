"""Security review #26, item 2: an API token carries only the scopes chosen for it.

Every endpoint names the scope a token needs (one permission class enforces it), a
token without it gets 403 naming the missing scope, the schema, the token page and
the admin show scopes, tokens from before scopes keep what they could do, and new
tokens expire by default.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps as django_apps
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiToken
from integrations.permissions import TokenHasScope
from integrations.scopes import ALL_SCOPES, TokenScope, required_scope
from integrations.services import api_token_create

pytestmark = pytest.mark.django_db

REF = "TD-000001"  # the scope is checked before the ticket is looked up

#: Every API endpoint and method with the scope it needs.
ENDPOINTS = [
    ("get", "/api/v1/me/", "read"),
    ("get", "/api/v1/tickets/", "read"),
    ("post", "/api/v1/tickets/", "tickets:write"),
    ("get", f"/api/v1/tickets/{REF}/", "read"),
    ("get", f"/api/v1/tickets/{REF}/comments/", "read"),
    ("post", f"/api/v1/tickets/{REF}/comments/", "tickets:write"),
    ("post", f"/api/v1/tickets/{REF}/claim/", "tickets:write"),
    ("post", f"/api/v1/tickets/{REF}/escalate/", "tickets:write"),
    ("post", f"/api/v1/tickets/{REF}/deescalate/", "tickets:write"),
    ("post", f"/api/v1/tickets/{REF}/resolve/", "tickets:write"),
    ("post", f"/api/v1/tickets/{REF}/status/", "tickets:write"),
    ("get", f"/api/v1/tickets/{REF}/attachments/", "read"),
    ("post", f"/api/v1/tickets/{REF}/attachments/", "tickets:write"),
    ("get", "/api/v1/kb/articles/", "read"),
    ("get", "/api/v1/kb/articles/reset-your-password/", "read"),
    ("get", "/api/v1/kb/suggest/?q=password", "read"),
    ("get", "/api/v1/metrics/summary/", "reports:read"),
]


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def token_for(user, scopes) -> str:
    return api_token_create(user=user, name="integration", scopes=scopes)[1]


def _api_views():
    """``(route, view class)`` of every endpoint under /api/v1/."""
    api = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and "api/v1" in str(p.pattern)
    )

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "view_class"):
                yield prefix + str(pattern.pattern), pattern.callback.view_class

    return list(walk(api.url_patterns, str(api.pattern)))


def test_every_endpoint_enforces_a_scope_for_every_method():
    views = _api_views()
    assert len(views) >= 14
    covered = {(method, path.split("?")[0]) for method, path, _scope in ENDPOINTS}
    for route, view in views:
        assert any(isinstance(p, TokenHasScope) for p in view().get_permissions()), route
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                assert required_scope(view, method) in ALL_SCOPES, (route, method)
                assert any(m == method and _matches(route, p) for m, p in covered), (route, method)


def _matches(route: str, path: str) -> bool:
    from django.urls import resolve

    return resolve(path).route == route


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_a_token_without_the_scope_is_refused_with_403_naming_it(manager, method, path, scope):
    others = [s for s in ALL_SCOPES if s != scope]
    response = getattr(bearer(token_for(manager, others)), method)(path)
    assert response.status_code == 403, response.content
    assert f"“{scope}”" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_a_token_with_the_scope_gets_past_the_check(manager, method, path, scope):
    response = getattr(bearer(token_for(manager, [scope])), method)(path)
    assert "scope" not in str(response.content), response.content
    assert response.status_code != 403


def test_a_read_only_token_cannot_escalate_resolve_or_read_dashboards(manager, make_ticket, agent1):
    ticket = make_ticket()
    client = bearer(token_for(manager, [TokenScope.READ]))
    assert client.get(f"/api/v1/tickets/{ticket.reference}/").status_code == 200
    escalate = client.post(
        f"/api/v1/tickets/{ticket.reference}/escalate/",
        {"symptom": "s", "steps_tried": "t", "findings": "f"},
        format="json",
    )
    assert escalate.status_code == 403 and "tickets:write" in escalate.json()["detail"]
    assert (
        client.post(f"/api/v1/tickets/{ticket.reference}/resolve/", {"resolution": "x"}).status_code
        == 403
    )
    assert client.get("/api/v1/metrics/summary/").status_code == 403
    ticket.refresh_from_db()
    assert ticket.tier == 1 and ticket.status != "resolved"


def test_sessions_are_not_bound_by_scopes(client_session_manager):
    assert client_session_manager.get("/api/v1/metrics/summary/").status_code != 403


@pytest.fixture
def client_session_manager(manager):
    client = APIClient()
    client.force_login(manager)
    return client


def test_an_undeclared_write_is_refused_to_every_token():
    class View:
        token_scopes = {"GET": TokenScope.READ}

    assert required_scope(View, "GET") == "read" and required_scope(View, "HEAD") == "read"
    assert required_scope(View, "POST") is None and required_scope(View, "DELETE") is None


def test_scopes_must_be_known_and_at_least_one(customer):
    from helpdesk.exceptions import DomainError

    with pytest.raises(DomainError, match="Choose at least one scope"):
        api_token_create(user=customer, name="x", scopes=[])
    with pytest.raises(DomainError, match="Unknown scope: admin"):
        api_token_create(user=customer, name="x", scopes=["read", "admin"])
    token, _raw = api_token_create(user=customer, name="x", scopes=["reports:read", "read"])
    assert token.scopes == ["read", "reports:read"]


# ---------------------------------------------------------------------------
# Schema, token page, admin
# ---------------------------------------------------------------------------


def test_the_schema_names_each_operation_s_scope(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for method, path, scope in ENDPOINTS:
        template = (
            path.split("?")[0].replace(REF, "{reference}").replace("reset-your-password", "{slug}")
        )
        operation = schema["paths"][template][method]
        assert operation["x-token-scope"] == scope, (method, path)
        assert f"**API token scope:** `{scope}`." in operation["description"]
    description = schema["components"]["securitySchemes"]["tokenAuth"]["description"]
    assert all(f"`{scope}`" in description for scope in ALL_SCOPES)


def test_the_token_page_offers_and_shows_scopes(client, customer):
    client.force_login(customer)
    page = client.get("/accounts/tokens/").content.decode()
    for scope in ALL_SCOPES:
        assert f'value="{scope}"' in page
    refused = client.post("/accounts/tokens/", {"name": "CI", "expires_in": "30"})
    assert "Choose at least one scope." in refused.content.decode()
    assert not ApiToken.objects.exists()
    client.post(
        "/accounts/tokens/",
        {"name": "CI", "expires_in": "30", "scopes": ["read", "tickets:write"]},
    )
    token = ApiToken.objects.get()
    assert token.scopes == ["read", "tickets:write"]
    listing = client.get("/accounts/tokens/").content.decode()
    assert "<code>read</code>, <code>tickets:write</code>" in listing


def test_the_admin_shows_scopes(admin_client, customer):
    token, _raw = api_token_create(user=customer, name="CI", scopes=["read", "kb:write"])
    listing = admin_client.get("/admin/integrations/apitoken/").content.decode()
    assert "read, kb:write" in listing
    change = admin_client.get(f"/admin/integrations/apitoken/{token.pk}/change/").content.decode()
    assert "read, kb:write" in change


# ---------------------------------------------------------------------------
# Tokens from before scopes; default expiry
# ---------------------------------------------------------------------------


def test_tokens_made_before_scopes_keep_what_they_could_do(customer, manager):
    migration = importlib.import_module("integrations.migrations.0002_api_token_scopes")
    old, raw = api_token_create(user=manager, name="old", scopes=["read"])
    ApiToken.objects.filter(pk=old.pk).update(scopes=[])  # as the new column starts out
    migration.grant_todays_power(django_apps, None)
    old.refresh_from_db()
    assert old.scopes == list(ALL_SCOPES)
    client = bearer(raw)
    for method, path, _scope in ENDPOINTS:
        assert getattr(client, method)(path).status_code != 403, path


def test_new_tokens_expire_after_the_configured_default(settings, customer, client):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        settings.API_TOKEN_DEFAULT_EXPIRY_DAYS = 90
        token, _raw = api_token_create(user=customer, name="a", scopes=["read"])
        assert token.expires_at == start + timedelta(days=90)
        settings.API_TOKEN_DEFAULT_EXPIRY_DAYS = 45
        token, _raw = api_token_create(user=customer, name="b", scopes=["read"])
        assert token.expires_at == start + timedelta(days=45)
        token, _raw = api_token_create(user=customer, name="c", scopes=["read"], never_expires=True)
        assert token.expires_at is None
        settings.API_TOKEN_DEFAULT_EXPIRY_DAYS = 0
        token, _raw = api_token_create(user=customer, name="d", scopes=["read"])
        assert token.expires_at is None
    # The token page preselects the default.
    settings.API_TOKEN_DEFAULT_EXPIRY_DAYS = 45
    client.force_login(customer)
    page = client.get("/accounts/tokens/").content.decode()
    assert '<option value="45" selected>45 days</option>' in page
