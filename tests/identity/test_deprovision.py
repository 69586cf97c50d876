"""Leavers and movers: group changes at the provider take effect at the next login;
a switched-off account loses its session (the user memo) and its API tokens."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from identity.models import ExternalIdentity
from identity.services import identity_deprovision
from integrations.services import api_token_create
from tests.identity.idp import sso_login
from tiers.models import AgentProfile

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def drew_groups(idp):
    """drew's groups at the provider, put back after the test (the provider is shared)."""
    yield lambda groups: idp.set_groups("drew", [*groups, "email-verified"])
    idp.set_groups("drew", ["helpdesk-tier3", "email-verified"])


def test_moved_to_another_tier_at_the_provider_changes_the_tier_at_next_login(
    client, sso, drew_groups
):
    sso_login(client, "drew")
    drew = User.objects.get(email="drew@corp.example")
    assert drew.agent_profile.tier == 3
    client.logout()
    drew_groups(["helpdesk-tier1"])
    assert sso_login(client, "drew")["Location"] == "/agent/"
    drew.agent_profile.refresh_from_db()
    assert drew.agent_profile.tier == 1


def test_removed_from_the_group_loses_staff_access_at_next_login(client, sso, drew_groups):
    sso_login(client, "drew")
    client.logout()
    drew_groups([])
    response = sso_login(client, "drew")
    assert response["Location"] == "/"
    drew = User.objects.get(email="drew@corp.example")
    assert not AgentProfile.objects.get(user=drew).is_active
    assert client.get("/agent/").status_code in (302, 403)
    assert ExternalIdentity.objects.get(user=drew).role == "customer"


def test_removed_from_every_group_with_default_none_is_refused_and_demoted(
    client, settings, idp, drew_groups
):
    settings.TIERDESK_OIDC_PROVIDERS = [idp.provider_setting(default_role="none")]
    sso_login(client, "drew")
    client.logout()
    drew_groups([])
    response = sso_login(client, "drew")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    drew = User.objects.get(email="drew@corp.example")
    assert not AgentProfile.objects.get(user=drew).is_active


def test_deprovisioned_user_is_logged_out_at_the_next_request(client, sso):
    sso_login(client, "pat")
    assert client.get("/agent/").status_code == 200  # the user memo now holds pat
    pat = User.objects.get(email="pat@corp.example")
    assert identity_deprovision(user=pat, reason="left the company")
    response = client.get("/agent/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_deprovisioned_user_tokens_stop_working(sso, client):
    sso_login(client, "pat")
    pat = User.objects.get(email="pat@corp.example")
    _token, raw = api_token_create(user=pat, name="CI", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/tickets/").status_code == 200
    identity_deprovision(user=pat, reason="left the company")
    response = api.get("/api/v1/tickets/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    # Switched back on by hand later, the old integrations stay dead.
    pat.refresh_from_db()
    pat.is_active = True
    pat.save()
    assert api.get("/api/v1/tickets/").status_code == 401


def test_deprovisioned_user_returning_through_the_provider_is_switched_back_on(client, sso):
    sso_login(client, "pat")
    pat = User.objects.get(email="pat@corp.example")
    identity_deprovision(user=pat, reason="sync: not in directory")
    client.logout()
    assert sso_login(client, "pat")["Location"] == "/agent/"
    pat.refresh_from_db()
    assert pat.is_active and pat.agent_profile.is_active


def test_account_switched_off_by_an_administrator_stays_off(client, sso):
    sso_login(client, "pat")
    client.logout()
    User.objects.filter(email="pat@corp.example").update(is_active=False)
    response = sso_login(client, "pat")
    assert response.status_code == 403
    assert b"switched off" in response.content
    assert "_auth_user_id" not in Client().session


def test_superuser_is_never_deprovisioned(db):
    admin = User.objects.create_superuser("admin", "admin@tierdesk.local", "pw")
    assert not identity_deprovision(user=admin, reason="sync")
    admin.refresh_from_db()
    assert admin.is_active
