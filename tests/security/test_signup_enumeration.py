"""Security review #26, item 3d: the sign-up form does not tell which e-mail addresses
have accounts. A taken address gets the same answer as a new one; its owner gets a
"someone tried to sign up" e-mail, queued for the worker after commit."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from tests.factories import UserFactory
from tickets import tasks

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase"


def signup(client, email: str):
    return client.post(
        "/accounts/signup/",
        {"name": "Robin Reader", "email": email, "password1": PASSWORD, "password2": PASSWORD, "website": ""},
    )  # fmt: skip


def comparable(response, email: str) -> str:
    """The page without what differs by design: the address typed, the CSRF token."""
    html = response.content.decode().replace(email, "<email>")
    return re.sub(
        r'(name="csrfmiddlewaretoken" value=|name="csrf-token" content=)"[^"]*"', r"\1", html
    )


@pytest.fixture
def owner(db):
    return UserFactory(username="taken", email="taken@example.com", password="owner-password-1")


def test_a_taken_address_gets_the_same_answer_as_a_new_one(
    client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        new = signup(client, "new@example.com")
    client.logout()
    client.cookies.clear()
    with django_capture_on_commit_callbacks(execute=True):
        taken = signup(client, "taken@example.com")
    assert new.status_code == taken.status_code == 200
    assert comparable(new, "new@example.com") == comparable(taken, "taken@example.com")
    assert "already exists" not in taken.content.decode()
    assert sorted(new.cookies) == sorted(taken.cookies)
    # Neither answer logs anyone in.
    assert "_auth_user_id" not in client.session
    # Nothing changed about the existing account.
    owner.refresh_from_db()
    assert owner.check_password("owner-password-1") and owner.first_name != "Robin"
    assert get_user_model().objects.filter(email__iexact="taken@example.com").count() == 1
    # The new address got its verification link, the owner the notice.
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["new@example.com"], "Confirm your e-mail address for the help desk"),
        (["taken@example.com"], "Someone tried to create a help desk account with your address"),
    ]
    notice = mailoutbox[1]
    assert "/accounts/password_reset/" in notice.body and "/accounts/verify/" not in notice.body


def test_the_notice_is_queued_for_the_worker_after_commit(
    client, owner, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.account_mail_send, "delay", lambda **kw: queued.append(kw))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        signup(client, "Taken@Example.com")
    assert queued == [] and mailoutbox == []  # nothing inside the request's transaction
    for callback in callbacks:
        callback()
    assert queued == [{"kind": "signup_attempt", "user_id": owner.pk}]
    assert mailoutbox == []  # the worker sends it
    tasks.account_mail_send.run(**queued[0])
    assert [m.to for m in mailoutbox] == [["taken@example.com"]]


def test_the_owner_gets_at_most_one_notice_an_hour(
    client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert signup(client, "taken@example.com").status_code == 200
    assert len(mailoutbox) == 1


def test_a_taken_address_still_costs_a_password_hash(client, owner, monkeypatch):
    """Creating an account hashes the password; answering for a taken address does too,
    so the time taken does not tell them apart."""
    from tickets.services import portal

    hashed = []
    real = portal.make_password
    monkeypatch.setattr(portal, "make_password", lambda raw: hashed.append(raw) or real(raw))
    signup(client, "taken@example.com")
    assert hashed == [PASSWORD]
