"""KB endpoints × roles: anonymous and customers read public articles only."""

from __future__ import annotations

import pytest

from knowledgebase.models import Article
from tests.factories import ArticleFactory

from .conftest import ROLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles(db):
    return {
        "public": ArticleFactory(
            slug="reset-your-password", title="Reset your password", summary="password portal"
        ),
        "internal": ArticleFactory(
            slug="ad-lockout-script",
            title="AD lockout script",
            summary="password lockout steps",
            audience=Article.Audience.INTERNAL,
            min_tier=2,
        ),
        "draft": ArticleFactory(
            slug="draft-password", title="Draft password", status=Article.Status.DRAFT
        ),
    }


# Which articles each role finds (ROLES order).
VISIBLE = {
    "anonymous": {"reset-your-password"},
    "customer": {"reset-your-password"},
    "other_customer": {"reset-your-password"},
    "agent1": {"reset-your-password"},
    "agent2": {"reset-your-password", "ad-lockout-script"},
    "agent3": {"reset-your-password", "ad-lockout-script"},
    "manager": {"reset-your-password", "ad-lockout-script"},
}


@pytest.mark.parametrize("role", ROLES)
def test_search_by_role(client_for, articles, role):
    response = client_for(role).get("/api/v1/kb/articles/?q=password")
    assert response.status_code == 200
    assert {a["slug"] for a in response.json()} == VISIBLE[role]


@pytest.mark.parametrize("role", ROLES)
def test_article_detail_by_role(client_for, articles, role):
    client = client_for(role)
    public = client.get("/api/v1/kb/articles/reset-your-password/")
    internal = client.get("/api/v1/kb/articles/ad-lockout-script/")
    draft = client.get("/api/v1/kb/articles/draft-password/")
    assert public.status_code == 200
    assert "<strong>helpful</strong>" in public.json()["body_html"]
    assert internal.status_code == (200 if "ad-lockout-script" in VISIBLE[role] else 404)
    assert draft.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_suggest_by_role(client_for, articles, role):
    response = client_for(role).get("/api/v1/kb/suggest/?q=forgot+my+password+lockout")
    assert response.status_code == 200
    assert {a["slug"] for a in response.json()} == VISIBLE[role]


def test_suggest_needs_text_and_limits_are_checked(client_for, articles):
    client = client_for("anonymous")
    assert "q" in client.get("/api/v1/kb/suggest/").json()
    assert client.get("/api/v1/kb/articles/?limit=0").status_code == 400
    assert client.get("/api/v1/kb/articles/?limit=500").status_code == 400
    assert client.get("/api/v1/kb/articles/no%20such/").status_code == 404


def test_search_results_carry_snippet_and_rank_fields(client_for, articles):
    [item] = client_for("anonymous").get("/api/v1/kb/articles/?q=reset").json()
    assert set(item) >= {"slug", "title", "summary", "url", "snippet", "rank"}
    assert item["url"] == "/kb/reset-your-password/"
