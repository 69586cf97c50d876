"""OpenID Connect login against a real provider (django-oauth-toolkit on loopback):
just-in-time accounts with the tier of their group, safe linking, refusals."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from identity.models import ExternalIdentity
from tests.factories import UserFactory, make_agent
from tests.identity.idp import sso_login
from tiers.models import AgentProfile

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_login_page_offers_the_provider(client, sso):
    page = client.get("/accounts/login/")
    assert b"Sign in with Acme SSO" in page.content
    assert b'href="/accounts/oidc/corp/login/"' in page.content


def test_first_login_creates_a_tier2_agent_with_no_password(client, sso):
    response = sso_login(client, "pat")
    assert response.status_code == 302
    assert response["Location"] == "/agent/"
    user = User.objects.get(email="pat@corp.example")
    assert (user.username, user.first_name, user.last_name) == ("pat", "Pat", "Tech")
    assert not user.has_usable_password()
    profile = AgentProfile.objects.get(user=user)
    assert (profile.tier, profile.is_manager, profile.is_active) == (2, False, True)
    assert not user.is_staff
    link = ExternalIdentity.objects.get(user=user)
    assert (link.source, link.provider, link.role) == ("oidc", "corp", "agent:2")
    queue = client.get("/agent/")
    assert queue.status_code == 200
    assert b"Tier 2 queue" in queue.content


def test_manager_group_gives_the_dashboard_and_the_admin(client, sso):
    response = sso_login(client, "morgan")
    assert response["Location"] == "/dashboard/"
    user = User.objects.get(email="morgan@corp.example")
    assert user.is_staff
    profile = user.agent_profile
    assert (profile.tier, profile.is_manager) == (3, True)


def test_person_in_no_group_is_a_customer(client, sso):
    response = sso_login(client, "lee")
    assert response["Location"] == "/"
    user = User.objects.get(email="lee@corp.example")
    assert not AgentProfile.objects.filter(user=user).exists()
    assert client.get("/agent/").status_code in (302, 403)


def test_second_login_finds_the_same_account_by_subject(client, sso):
    sso_login(client, "pat")
    client.logout()
    User.objects.filter(email="pat@corp.example").update(email="renamed@corp.example")
    sso_login(client, "pat")
    assert User.objects.filter(first_name="Pat").count() == 1
    assert ExternalIdentity.objects.count() == 1


def test_verified_email_links_the_existing_local_agent(client, sso):
    agent = make_agent(1, username="agent1")
    agent.email = "agent1@tierdesk.local"
    agent.save()
    response = sso_login(client, "alex")
    assert response["Location"] == "/agent/"
    assert ExternalIdentity.objects.get().user == agent
    assert User.objects.filter(email__iexact="agent1@tierdesk.local").count() == 1


def test_unverified_email_of_a_staff_account_is_not_linked(client, sso):
    agent = make_agent(1, username="agent1")
    agent.email = "agent1@tierdesk.local"
    agent.save()
    response = sso_login(client, "mallory")
    assert response.status_code == 403
    assert b"linked to single sign-on only when the provider confirms" in response.content
    assert "_auth_user_id" not in client.session
    assert not ExternalIdentity.objects.exists()
    agent.agent_profile.refresh_from_db()
    assert agent.agent_profile.tier == 1  # mallory's Tier 3 group changed nothing


def test_unverified_email_creates_no_account(client, sso, idp):
    # mallory's address belongs to nobody here: still no account on an unverified address.
    response = sso_login(client, "mallory")
    assert response.status_code == 403
    assert b"did not confirm that your e-mail address is verified" in response.content
    assert not User.objects.filter(email="agent1@tierdesk.local").exists()


def test_missing_email_claim_is_refused_with_a_message(client, sso):
    response = sso_login(client, "noemail")
    assert response.status_code == 403
    assert b"did not send your e-mail address" in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.exists()


def test_superuser_is_never_linked(client, sso):
    User.objects.create_superuser("admin", "admin@tierdesk.local", "break-glass-pw")
    response = sso_login(client, "root")
    assert response.status_code == 403
    assert b"administrator account cannot be linked" in response.content
    assert not ExternalIdentity.objects.exists()


def test_trusted_provider_links_without_the_verified_claim(client, settings, idp):
    settings.TIERDESK_OIDC_PROVIDERS = [idp.provider_setting(trust_email=True)]
    customer = UserFactory(username="taylor-local", email="taylor@corp.example")
    response = sso_login(client, "taylor")
    assert response.status_code == 302
    assert ExternalIdentity.objects.get().user == customer


def test_untrusted_provider_without_the_verified_claim_does_not_link(client, sso):
    UserFactory(username="taylor-local", email="taylor@corp.example")
    response = sso_login(client, "taylor")
    assert response.status_code == 403
    assert not ExternalIdentity.objects.exists()


def test_trusted_provider_saying_not_verified_is_believed(client, settings, idp):
    settings.TIERDESK_OIDC_PROVIDERS = [idp.provider_setting(trust_email=True)]
    make_agent(1, username="agent1").__class__.objects.filter(username="agent1").update(
        email="agent1@tierdesk.local"
    )
    response = sso_login(client, "mallory")  # email_verified: false, explicitly
    assert response.status_code == 403
    assert not ExternalIdentity.objects.exists()


def test_default_role_none_refuses_people_in_no_group(client, settings, idp):
    settings.TIERDESK_OIDC_PROVIDERS = [idp.provider_setting(default_role="none")]
    response = sso_login(client, "lee")
    assert response.status_code == 403
    assert b"does not list you in a group" in response.content
    assert not User.objects.exists()


def test_next_is_kept_through_the_provider(client, sso):
    import requests

    from tests.identity.idp import PASSWORD, sso_start, walk_provider

    start = sso_start(client, next_url="/kb/")
    url = walk_provider(
        requests.Session(), start, username="pat", password=PASSWORD, rp="http://testserver"
    )
    response = client.get(url.removeprefix("http://testserver"))
    assert response["Location"] == "/kb/"


def test_offsite_next_is_dropped(client, sso):
    import requests

    from tests.identity.idp import PASSWORD, sso_start, walk_provider

    start = sso_start(client, next_url="https://evil.example/")
    url = walk_provider(
        requests.Session(), start, username="pat", password=PASSWORD, rp="http://testserver"
    )
    response = client.get(url.removeprefix("http://testserver"))
    assert response["Location"] == "/agent/"


def test_unknown_provider_is_404(client, sso):
    assert client.get("/accounts/oidc/nope/login/").status_code == 404


def test_logout_ends_the_provider_session_too(client, sso):
    import requests

    from tests.identity.idp import sso_start

    browser = requests.Session()
    sso_login(client, "pat", browser=browser)
    # Signed in at the provider: a new login there goes straight back, no password.
    again = browser.get(sso_start(client), allow_redirects=False)
    assert again.is_redirect and again.headers["Location"].startswith("http://testserver/")
    import html
    import re

    response = client.post("/accounts/logout/")
    assert response.status_code == 200
    assert b"You are logged out of Tierdesk" in response.content
    link = re.search(rb'<a class="button" href="([^"]+)">Continue to Acme SSO', response.content)
    end_session = html.unescape(link.group(1).decode())
    assert end_session.startswith(sso.issuer + "/logout/?id_token_hint=")
    assert "_auth_user_id" not in client.session
    back = browser.get(end_session, allow_redirects=False)
    assert back.is_redirect and back.headers["Location"] == "http://testserver/"
    # The provider asks for the password again.
    page = browser.get(sso_start(client))
    assert "Acme Identity" in page.text


def test_logout_of_a_password_session_stays_local(client, db):
    UserFactory(username="walkin")
    client.post("/accounts/login/", {"username": "walkin", "password": "pw"})
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/"


def test_returning_login_is_a_bounded_number_of_queries(client, sso, django_assert_max_num_queries):
    from tests.identity.idp import sso_callback_path

    sso_login(client, "pat")
    client.logout()
    path = sso_callback_path(client, "pat")
    # Link by subject, profile unchanged (most of these are the session being renewed;
    # one reads the user's time zone into the new session, desk/middleware.py).
    with django_assert_max_num_queries(17):
        response = client.get(path)
    assert response["Location"] == "/agent/"
