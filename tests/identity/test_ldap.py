"""LDAP directory login and sync against a real slapd (throwaway, loopback)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from identity.ldap import DirectoryUnavailable, directory_sync
from identity.models import ExternalIdentity
from integrations.services import api_token_create
from tests.factories import UserFactory, make_agent
from tests.identity.slapd import PASSWORD
from tiers.models import AgentProfile

pytestmark = pytest.mark.django_db

User = get_user_model()


def _login(client, username: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_directory_login_creates_a_tier1_agent(client, directory):
    response = _login(client, "jordan")
    assert response.status_code == 302
    assert response["Location"] == "/agent/"
    jordan = User.objects.get(username="jordan")
    assert (jordan.first_name, jordan.last_name, jordan.email) == (
        "Jordan",
        "Front",
        "jordan@acme.test",
    )
    assert not jordan.has_usable_password()
    assert (jordan.agent_profile.tier, jordan.agent_profile.is_manager) == (1, False)
    link = ExternalIdentity.objects.get(user=jordan)
    assert (link.source, link.subject, link.role) == (
        "ldap",
        "uid=jordan,ou=people,dc=acme,dc=test",
        "agent:1",
    )
    assert b"Tier 1 queue" in client.get("/agent/").content


def test_manager_group_by_name(client, directory):
    assert _login(client, "sam")["Location"] == "/dashboard/"
    sam = User.objects.get(username="sam")
    assert sam.is_staff and sam.agent_profile.is_manager and sam.agent_profile.tier == 2


def test_person_in_no_group_is_a_customer(client, directory):
    assert _login(client, "kim")["Location"] == "/"
    assert not AgentProfile.objects.filter(user__username="kim").exists()


def test_wrong_directory_password_is_refused(client, directory):
    response = _login(client, "jordan", "wrong")
    assert response.status_code == 200
    assert b"do not match" in response.content
    assert not User.objects.filter(username="jordan").exists()


def test_same_username_as_a_local_account_does_not_take_it_over(client, directory):
    local = make_agent(3, username="agent1")
    local.email = "agent1@tierdesk.local"
    local.save()
    response = _login(client, "agent1")  # the directory's agent1, another person
    assert response["Location"] == "/agent/"
    other = User.objects.get(email="other.agent1@acme.test")
    assert other.username == "agent1-2"
    assert other.agent_profile.tier == 2
    local.refresh_from_db()
    assert local.agent_profile.tier == 3 and local.email == "agent1@tierdesk.local"
    assert not ExternalIdentity.objects.filter(user=local).exists()
    # And next time the directory's agent1 is found again by its entry, not by name.
    client.logout()
    _login(client, "agent1")
    assert int(client.session["_auth_user_id"]) == other.pk


def test_directory_address_links_the_existing_local_account(client, directory):
    customer = UserFactory(username="chris-portal", email="customer@example.com")
    assert _login(client, "chris")["Location"] == "/"
    assert ExternalIdentity.objects.get().user == customer


def test_directory_down_says_so_and_local_passwords_still_work(client, settings, slapd):
    from tests.identity.idp import free_port

    settings.TIERDESK_LDAP = slapd.settings(SERVER_URI=f"ldap://127.0.0.1:{free_port()}")
    response = _login(client, "jordan")
    assert response.status_code == 200
    assert b"directory cannot be reached just now" in response.content
    assert "_auth_user_id" not in client.session
    UserFactory(username="walkin", password="local-pw-1")
    assert _login(client, "walkin", "local-pw-1").status_code == 302


def test_starttls_with_the_company_ca(client, directory, slapd, settings):
    settings.TIERDESK_LDAP = slapd.settings(START_TLS=True, CA_CERT_FILE=slapd.ca_file)
    assert _login(client, "jordan")["Location"] == "/agent/"


def test_starttls_refuses_a_server_it_cannot_verify(client, directory, slapd, settings, tmp_path):
    from tests.identity.slapd import _certificates

    _certificates(tmp_path)  # another CA, which did not sign the server's certificate
    settings.TIERDESK_LDAP = slapd.settings(START_TLS=True, CA_CERT_FILE=str(tmp_path / "ca.pem"))
    response = _login(client, "jordan")
    assert b"directory cannot be reached just now" in response.content
    assert "_auth_user_id" not in client.session


def test_sync_demotes_a_member_removed_from_the_group(client, directory):
    _login(client, "jordan")
    directory.set_members("helpdesk-tier1", [])
    report = directory_sync()
    assert (report.checked, report.updated, report.deprovisioned) == (1, 1, 0)
    jordan = User.objects.get(username="jordan")
    assert jordan.is_active
    assert not jordan.agent_profile.is_active
    assert client.get("/agent/").status_code in (302, 403)


def test_sync_moves_a_member_to_another_tier(client, directory):
    _login(client, "jordan")
    directory.set_members("helpdesk-tier2", ["agent1", "jordan"])
    directory_sync()
    assert User.objects.get(username="jordan").agent_profile.tier == 2


def test_sync_switches_off_a_leaver_with_sessions_and_tokens(client, directory):
    _login(client, "sam")
    sam = User.objects.get(username="sam")
    _token, raw = api_token_create(user=sam, name="reports", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/tickets/").status_code == 200
    assert client.get("/dashboard/").status_code == 200
    directory.delete_person("sam")
    report = directory_sync()
    assert report.deprovisioned == 1
    sam.refresh_from_db()
    assert not sam.is_active
    assert api.get("/api/v1/tickets/").status_code == 401
    assert client.get("/dashboard/").status_code == 302  # logged out by the memo/backend
    assert _login(client, "sam").status_code == 200  # and the directory has no sam now


def test_sync_with_default_none_switches_off_people_in_no_group(client, directory, settings, slapd):
    settings.TIERDESK_LDAP = slapd.settings(DEFAULT_ROLE="none")
    _login(client, "jordan")
    directory.set_members("helpdesk-tier1", [])
    assert directory_sync().deprovisioned == 1
    assert not User.objects.get(username="jordan").is_active


def test_directory_down_during_sync_switches_nobody_off(client, directory, slapd):
    _login(client, "jordan")
    slapd.stop()
    with pytest.raises(DirectoryUnavailable):
        directory_sync()
    jordan = User.objects.get(username="jordan")
    assert jordan.is_active and jordan.agent_profile.is_active


def test_periodic_task_is_scheduled_and_survives_an_outage(client, directory, slapd, settings):
    from identity.tasks import directory_sync as task

    assert settings.CELERY_BEAT_SCHEDULE["identity-directory-sync"]["task"] == (
        "identity.tasks.directory_sync"
    )
    _login(client, "jordan")
    directory.delete_person("jordan")
    assert task.delay().get() == "1 directory account(s) checked, 0 updated, 1 switched off"
    slapd.stop()
    assert task.delay().get().startswith("skipped: the directory at")


def test_sync_command_prints_what_it_did(client, directory):
    import io

    from django.core.management import call_command

    _login(client, "kim")
    out = io.StringIO()
    call_command("directory_sync", stdout=out)
    assert out.getvalue().strip() == "1 directory account(s) checked, 1 updated, 0 switched off"


def test_sync_without_a_directory_does_nothing(db, settings):
    settings.TIERDESK_LDAP = {"SERVER_URI": ""}
    assert directory_sync().checked == 0
