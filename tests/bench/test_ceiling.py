"""The bench-only ceiling page: routed only under TIERDESK_BENCH, 25 rows when it is."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from helpdesk.bench_views import ceiling
from tests.factories import CategoryFactory


@pytest.mark.django_db
def test_ceiling_is_not_routed_without_the_bench_setting(client, settings):
    assert settings.TIERDESK_BENCH is False
    assert client.get("/bench/ceiling/").status_code == 404


@pytest.mark.django_db
def test_ceiling_renders_25_rows_of_a_small_table():
    for i in range(30):
        CategoryFactory(name=f"Ceiling category {i:02d}")
    html = ceiling(RequestFactory().get("/bench/ceiling/")).content.decode()
    assert html.count("<tr><td>") == 25
    assert "Ceiling category 00" in html
