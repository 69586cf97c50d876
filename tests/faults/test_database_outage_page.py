"""In-process: any query failing with OperationalError/InterfaceError gives the 503
page, wherever it is raised, and never a stack trace."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client

from helpdesk.views import error_500

pytestmark = pytest.mark.faults


@pytest.fixture
def dead_database(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    def arm():
        monkeypatch.setattr(CursorWrapper, "execute", refuse)
        monkeypatch.setattr(CursorWrapper, "executemany", refuse)

    return arm


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/tickets/new/", "/agent/", "/kb/", "/accounts/login/"])
def test_pages_answer_503_with_retry_after_when_the_database_is_gone(
    dead_database, agent1, settings, path
):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(agent1)
    dead_database()
    response = client.get(path)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    page = response.content.decode()
    assert "cannot reach its database" in page
    assert "Traceback" not in page and "OperationalError" not in page


@pytest.mark.django_db
def test_a_post_during_the_outage_is_a_503_too(dead_database, category):
    client = Client(raise_request_exception=False)
    dead_database()
    response = client.post("/tickets/new/", {"subject": "x", "description": "y" * 20})
    assert response.status_code == 503


@pytest.mark.django_db
def test_healthz_says_down_with_503(dead_database):
    dead_database()
    response = Client(raise_request_exception=False).get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"


@pytest.mark.parametrize(
    "exc", [OperationalError("gone"), InterfaceError("connection already closed")]
)
def test_handler500_turns_outages_raised_outside_views_into_503(rf, exc):
    request = rf.get("/")
    try:
        raise exc
    except type(exc):
        response = error_500(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"


def test_handler500_keeps_500_for_real_bugs(rf):
    request = rf.get("/")
    try:
        raise ZeroDivisionError
    except ZeroDivisionError:
        response = error_500(request)
    assert response.status_code == 500
