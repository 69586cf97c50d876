"""Login: throttling per account and per address, no user enumeration, session rotation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.utils import timezone

from tests.factories import UserFactory

LOGIN = "/accounts/login/"
GENERIC_FAILURE = "That username or e-mail and password do not match."


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_IP_LIMIT = 6
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    return settings


def _login(client, username, password, ip="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_wrong_password_says_so_without_naming_the_field(client, customer, limits):
    response = _login(client, "customer", "wrong")
    assert response.status_code == 200
    assert GENERIC_FAILURE in response.content.decode()


@pytest.mark.django_db
def test_account_is_locked_after_repeated_failures_even_with_the_right_password(
    client, customer, limits
):
    for _ in range(3):
        assert _login(client, "customer", "wrong").status_code == 200
    response = _login(client, "customer", "pw")
    assert response.status_code == 429
    page = response.content.decode()
    assert re.search(r"Too many failed log-in attempts\. Try again in \d+ minutes?\.", page)
    assert 1 <= int(response["Retry-After"]) <= 900
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_lock_is_per_account_name_from_every_address(client, customer, limits):
    for i in range(3):
        _login(client, "customer", "wrong", ip=f"198.51.100.{i}")
    # A new address does not help against the account lock (distributed guessing).
    assert _login(client, "customer", "pw", ip="198.51.100.99").status_code == 429
    # Another account from the same address is unaffected.
    UserFactory(username="other", password="pw2")
    response = _login(client, "other", "pw2", ip="198.51.100.99")
    assert response.status_code == 302


@pytest.mark.django_db
def test_lock_expires_after_the_window(client, customer, limits):
    for _ in range(3):
        _login(client, "customer", "wrong")
    assert _login(client, "customer", "pw").status_code == 429
    with time_machine.travel(timezone.now() + timedelta(seconds=901), tick=False):
        assert _login(client, "customer", "pw").status_code == 302


@pytest.mark.django_db
def test_one_address_spraying_many_accounts_is_locked(client, limits):
    for i in range(6):  # six different names, one failure each: no account lock
        assert _login(client, f"guess{i}", "wrong", ip="192.0.2.50").status_code == 200
    real = UserFactory(username="realuser", password="pw")
    response = _login(client, real.username, "pw", ip="192.0.2.50")
    assert response.status_code == 429
    # Another address is not affected.
    assert _login(client, real.username, "pw", ip="192.0.2.51").status_code == 302


@pytest.mark.django_db
def test_a_successful_login_does_not_reset_the_address_counter(client, customer, limits):
    UserFactory(username="victim", password="secret")
    for _ in range(2):
        _login(client, "victim", "wrong", ip="192.0.2.60")
    for i in range(3):
        _login(client, f"nobody{i}", "wrong", ip="192.0.2.60")
    # The attacker logs in to their own account from the same address ...
    assert _login(client, "customer", "pw", ip="192.0.2.60").status_code == 302
    client.logout()
    # ... which must not clear the address's failures: one more failure locks it.
    assert _login(client, "nobody9", "wrong", ip="192.0.2.60").status_code == 200
    assert _login(client, "victim", "secret", ip="192.0.2.60").status_code == 429


@pytest.mark.django_db
def test_a_successful_login_forgives_that_accounts_own_failures(client, customer, limits):
    for _ in range(2):
        _login(client, "customer", "wrong")
    assert _login(client, "customer", "pw").status_code == 302
    client.logout()
    for _ in range(2):
        assert _login(client, "customer", "wrong").status_code == 200
    assert _login(client, "customer", "pw").status_code == 302


@pytest.mark.django_db
def test_no_enumeration_unknown_and_known_accounts_answer_alike(client, customer, limits):
    known = _login(client, "customer", "wrong", ip="192.0.2.70")
    unknown = _login(client, "no-such-user", "wrong", ip="192.0.2.71")
    by_mail = _login(client, "nobody@example.com", "wrong", ip="192.0.2.72")
    assert known.status_code == unknown.status_code == by_mail.status_code == 200
    for response in (known, unknown, by_mail):
        assert GENERIC_FAILURE in response.content.decode()
    # Locked: identical message and status whether the name exists or not.
    for _ in range(3):
        _login(client, "customer", "wrong", ip="192.0.2.73")
        _login(client, "ghost", "wrong", ip="192.0.2.74")
    locked_known = _login(client, "customer", "wrong", ip="192.0.2.75")
    locked_ghost = _login(client, "ghost", "wrong", ip="192.0.2.76")
    assert locked_known.status_code == locked_ghost.status_code == 429
    assert _errors(locked_known) == _errors(locked_ghost)


def _errors(response) -> list[str]:
    return re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', response.content.decode(), re.S)


@pytest.mark.django_db
def test_no_enumeration_by_timing_every_attempt_hashes_once(client, customer, limits, monkeypatch):
    """Timing: an unknown name costs one password hash, like a wrong password."""
    calls = []
    real_encode = MD5PasswordHasher.encode

    def counting_encode(self, password, salt):
        calls.append(1)
        return real_encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting_encode)
    _login(client, "customer", "wrong", ip="192.0.2.80")
    known = len(calls)
    calls.clear()
    _login(client, "no-such-user", "wrong", ip="192.0.2.81")
    unknown = len(calls)
    assert known == unknown == 1


@pytest.mark.django_db
def test_inactive_account_gets_the_generic_message(client, limits):
    UserFactory(username="gone", password="pw", is_active=False)
    response = _login(client, "gone", "pw")
    assert response.status_code == 200
    assert GENERIC_FAILURE in response.content.decode()
    assert "inactive" not in response.content.decode().lower()


@pytest.mark.django_db
def test_login_rotates_the_session_key(client, customer, limits):
    client.get(LOGIN)
    session = client.session
    session["planted"] = "by-attacker"
    session.save()
    before = session.session_key
    assert _login(client, "customer", "pw").status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    # The old key no longer authenticates anyone.
    from django.contrib.sessions.backends.db import SessionStore

    assert "_auth_user_id" not in SessionStore(session_key=before).load()
    client.get("/")
    assert client.session["_auth_user_id"] == str(customer.pk)


@pytest.mark.django_db
def test_login_by_email_and_overlong_or_binary_names_are_clean_4xx_free(client, customer, limits):
    assert _login(client, "CUSTOMER@example.com", "pw").status_code == 302
    client.logout()
    for name in ("x" * 5000, "\u202eremotsuc", "cus\u200btomer", "😀" * 100):
        response = _login(client, name, "pw", ip="192.0.2.90")
        assert response.status_code == 200, name[:20]
        assert "_auth_user_id" not in client.session
    response = _login(client, "cust\x00omer", "pw", ip="192.0.2.91")
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.django_db
def test_password_validators_refuse_weak_passwords(customer):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("demo", "12345678", "password", "customer1"):
        with pytest.raises(ValidationError):
            validate_password(weak, user=customer)
    validate_password("correct horse battery staple 42", user=customer)


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["demo", "12345678", "password", "pat@example.com"])
def test_signup_refuses_weak_passwords(client, weak):
    from django.contrib.auth import get_user_model

    response = client.post(
        "/accounts/signup/",
        {"name": "Pat", "email": "pat@example.com", "password1": weak, "password2": weak},
    )
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert not get_user_model().objects.filter(email="pat@example.com").exists()
