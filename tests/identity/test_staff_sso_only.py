"""TIERDESK_STAFF_SSO_ONLY: staff may not use local passwords; the break-glass
superuser and customers may."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import UserFactory, make_agent
from tests.identity.idp import sso_login

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def sso_only(settings):
    settings.TIERDESK_STAFF_SSO_ONLY = True


def _login(client, username: str, password: str = "pw"):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_agent_local_password_is_refused_with_a_message(client, sso_only):
    make_agent(2, username="agent2")
    response = _login(client, "agent2")
    assert response.status_code == 200
    assert b"Staff accounts sign in with single sign-on" in response.content
    assert "_auth_user_id" not in client.session


def test_manager_by_e_mail_is_refused_too(client, sso_only):
    manager = make_agent(3, manager=True, username="manager")
    response = _login(client, manager.email)
    assert b"Staff accounts sign in with single sign-on" in response.content


def test_wrong_password_of_staff_says_only_that_it_is_wrong(client, sso_only):
    make_agent(2, username="agent2")
    response = _login(client, "agent2", "not-it")
    assert b"do not match" in response.content
    assert b"single sign-on" not in response.content.split(b"</form>")[0]


def test_break_glass_superuser_keeps_its_password(client, sso_only):
    User.objects.create_superuser("admin", "admin@tierdesk.local", "break-glass-pw")
    response = _login(client, "admin", "break-glass-pw")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_customers_keep_local_passwords(client, sso_only):
    UserFactory(username="customer")
    assert _login(client, "customer")["Location"] == "/"


def test_switch_off_lets_staff_use_passwords(client, settings):
    settings.TIERDESK_STAFF_SSO_ONLY = False
    make_agent(2, username="agent2")
    assert _login(client, "agent2")["Location"] == "/agent/"


def test_staff_still_sign_in_through_the_provider(client, sso_only, sso):
    page = client.get("/accounts/login/")
    assert b"Staff sign in with single sign-on." in page.content
    assert sso_login(client, "pat")["Location"] == "/agent/"


def test_staff_still_sign_in_with_the_directory(client, sso_only, directory):
    from tests.identity.slapd import PASSWORD

    response = _login(client, "jordan", PASSWORD)
    assert response["Location"] == "/agent/"


def test_refusals_count_towards_the_lockout(client, sso_only, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    make_agent(2, username="agent2")
    _login(client, "agent2")
    _login(client, "agent2")
    response = _login(client, "agent2")
    assert response.status_code == 429
