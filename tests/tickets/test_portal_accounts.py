"""Customer accounts: sign-up, e-mail verification that collects earlier tickets,
login by e-mail, and Django's password reset with our pages."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import signing

from tests.factories import UserFactory
from tickets.models import EmailVerification, Ticket
from tickets.services.portal import email_verification_token

pytestmark = pytest.mark.django_db
SIGNUP = "/accounts/signup/"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"portal-{uuid.uuid4().hex}",
        }
    }


def _signup(client, **overrides):
    data = {
        "name": "Robin Reader",
        "email": "Robin@Example.com",
        "password1": "a-long-unusual-passphrase",
        "password2": "a-long-unusual-passphrase",
        "website": "",
    }
    data.update(overrides)
    return client.post(SIGNUP, data)


def _verify_link(mail) -> str:
    """The link's path (the host is the configured SITE_URL)."""
    return urlsplit(re.search(r"https?://\S+/accounts/verify/[^\s/]+/", mail.body).group(0)).path


def _login(client) -> None:
    assert client.login(username="robin@example.com", password="a-long-unusual-passphrase")


def test_signup_creates_the_account_and_sends_a_verification_link(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client)
    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    user = get_user_model().objects.get(email="robin@example.com")
    assert user.first_name == "Robin" and not user.is_staff
    assert EmailVerification.objects.get(user=user).verified_at is None
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["robin@example.com"]
    assert "/accounts/verify/" in mailoutbox[0].alternatives[0][0]
    # Not logged in by the sign-up (an existing address gets the same answer, #26);
    # the account works at once.
    assert client.get("/tickets/mine/").status_code == 302
    _login(client)
    page = client.get("/tickets/mine/").content.decode()
    assert "Please confirm your e-mail address" in page


def test_verification_attaches_earlier_anonymous_tickets_with_that_address(
    client, make_ticket, mailoutbox, django_capture_on_commit_callbacks
):
    earlier = make_ticket(requester_email="robin@example.com")
    someone_else = make_ticket(requester_email="else@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client)
    _login(client)
    mailoutbox_link = _verify_link(mailoutbox[-1])
    # Not verified yet: the anonymous ticket is not theirs.
    assert earlier.reference not in client.get("/tickets/mine/").content.decode()
    response = client.get(mailoutbox_link, follow=True)
    html = response.content.decode()
    assert "1 earlier ticket(s) now appear here" in html
    assert earlier.reference in html and someone_else.reference not in html
    earlier.refresh_from_db()
    assert earlier.requester.email == "robin@example.com"
    assert Ticket.objects.get(pk=someone_else.pk).requester is None


def test_tampered_expired_or_stale_links_are_refused(client, make_ticket, settings):
    user = UserFactory(username="robin", email="robin@example.com")
    make_ticket(requester_email="robin@example.com")
    token = email_verification_token(user=user)
    assert client.get(f"/accounts/verify/{token[:-2]}xx/").status_code == 400
    forged = signing.dumps({"u": user.pk, "e": "robin@example.com"}, salt="other-salt")
    assert client.get(f"/accounts/verify/{forged}/").status_code == 400
    # The address changed after the link was sent: the link proves nothing now.
    user.email = "new@example.com"
    user.save()
    response = client.get(f"/accounts/verify/{token}/")
    assert response.status_code == 400 and "not valid any more" in response.content.decode()
    assert not Ticket.objects.filter(requester=user).exists()


def test_signup_errors_are_shown_next_to_fields_and_nothing_is_created(client):
    UserFactory(username="taken", email="taken@example.com")
    response = _signup(client, email="TAKEN@example.com", password2="different-passphrase")
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_password2_error"' in html and "The two passwords differ." in html
    # A taken address is not an error on the form (tests/security/test_signup_enumeration.py).
    response = _signup(client, email="taken@example.com")
    assert "already exists" not in response.content.decode()
    response = _signup(client, password1="12345678", password2="12345678")
    assert 'id="id_password1_error"' in response.content.decode()
    assert get_user_model().objects.count() == 1


def test_signup_is_rate_limited(client, settings):
    settings.PORTAL_SIGNUP_LIMIT_PER_IP = 1
    _signup(client, email="one@example.com")
    client.logout()
    response = _signup(client, email="two@example.com")
    assert response.status_code == 429 and response["Retry-After"]


def test_login_with_email_and_password_reset_pages(client, mailoutbox):
    UserFactory(username="robin", email="robin@example.com", password="pw-robin-123")
    response = client.post(
        "/accounts/login/", {"username": "ROBIN@example.com", "password": "pw-robin-123"}
    )
    assert response.status_code == 302
    client.logout()
    page = client.get("/accounts/password_reset/").content.decode()
    assert "Reset your password" in page and 'for="id_email"' in page
    response = client.post("/accounts/password_reset/", {"email": "robin@example.com"})
    assert response.status_code == 302
    assert "Check your inbox" in client.get(response.url).content.decode()
    assert len(mailoutbox) == 1
    link = re.search(r"http://\S+/accounts/reset/\S+/", mailoutbox[0].body).group(0)
    confirm = client.get(link.split("testserver", 1)[1], follow=True)
    assert "Choose a new password" in confirm.content.decode()


def test_signup_honeypot_creates_nothing(client):
    response = _signup(client, website="http://spam.example")
    assert response.status_code == 200
    assert get_user_model().objects.count() == 0


def test_resend_verification_link(client, mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory(username="robin", email="robin@example.com")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/verify/", follow=True)
    assert "We sent a new link to robin@example.com" in response.content.decode()
    assert len(mailoutbox) == 1
    client.get(_verify_link(mailoutbox[0]))
    response = client.post("/accounts/verify/", follow=True)
    assert "already confirmed" in response.content.decode()
    assert "Please confirm your e-mail address" not in response.content.decode()


def test_my_tickets_needs_login(client):
    response = client.get("/tickets/mine/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
