"""The signed-in user is read from a per-process memo under the directory counter:
no user query on a warm request, and a password change or a deactivation is seen
by the very next request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.outage import DEAD_CACHE

pytestmark = pytest.mark.django_db
PAGE = "/agent/"


def user_queries(client) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(PAGE)
    return response.status_code, [
        q["sql"] for q in ctx.captured_queries if '"auth_user"' in q["sql"]
    ]


def test_a_warm_request_reads_no_user_row(client, agent1):
    client.force_login(agent1)
    client.get(PAGE)
    status, sql = user_queries(client)
    assert status == 200
    assert not [q for q in sql if 'FROM "auth_user" WHERE "auth_user"."id"' in q]


def test_a_password_change_signs_the_old_session_out_at_once(client, agent1):
    client.force_login(agent1)
    assert client.get(PAGE).status_code == 200
    agent1.set_password("a-new-long-password")
    agent1.save()
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_a_deactivated_user_is_signed_out_at_once(client, agent1):
    client.force_login(agent1)
    assert client.get(PAGE).status_code == 200
    agent1.is_active = False
    agent1.save()
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_with_the_cache_down_the_user_is_read_every_time(client, agent1, settings):
    client.force_login(agent1)
    settings.CACHES = DEAD_CACHE
    for _ in range(2):
        status, sql = user_queries(client)
        assert status == 200
        assert [q for q in sql if 'FROM "auth_user" WHERE "auth_user"."id"' in q]
