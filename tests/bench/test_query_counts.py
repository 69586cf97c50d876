"""Query counts that make bench found growing with the rows of a response (N+1)."""

from __future__ import annotations

import pytest

from knowledgebase.models import Article
from tests.factories import ArticleFactory, CategoryFactory


@pytest.mark.django_db
def test_kb_suggestion_api_costs_the_same_queries_for_one_or_five_articles(
    client, django_assert_max_num_queries
):
    category = CategoryFactory()
    for i in range(5):
        ArticleFactory(
            title=f"Reset your password step {i}",
            summary="Reset a forgotten password",
            status=Article.Status.PUBLISHED,
            audience=Article.Audience.PUBLIC,
            category=category,
            tags=["password"],
        )
    # Anonymous: no session or profile lookups; one query finds and serializes all five.
    with django_assert_max_num_queries(2):
        response = client.get("/api/v1/kb/suggest/?q=reset+password")
    assert response.status_code == 200
    body = response.json()
    results = body["results"] if isinstance(body, dict) else body
    assert len(results) == 5
    assert {r["category"] for r in results} == {category.slug}
