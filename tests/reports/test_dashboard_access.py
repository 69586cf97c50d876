"""Who may see the dashboard, its exports and the metrics API; bad input; speed bound."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from reports.exports import csv_cell, summary_csv, table_csv
from tests.factories import CategoryFactory, make_agent

pytestmark = pytest.mark.django_db

URLS = [
    "/dashboard/",
    "/dashboard/export/agents.csv",
    "/api/v1/metrics/summary/",
    "/api/v1/metrics/summary/?format=csv",
]


@pytest.mark.parametrize("url", URLS)
def test_agents_and_customers_are_refused(client, agent1, customer, url):
    for user in (agent1, customer):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 403, (user, url)


@pytest.mark.parametrize("url", URLS[:2])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_api_is_refused(client):
    # Token auth is configured: its challenge makes the refusal a 401, as for every API.
    assert client.get("/api/v1/metrics/summary/").status_code == 401


def test_manager_sees_the_dashboard(client, manager, scenario, django_assert_max_num_queries):
    client.force_login(manager)
    with django_assert_max_num_queries(40):
        response = client.get("/dashboard/?range=90")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Tier 1 resolution rate" in html
    assert 'id="dashboard-data"' in html
    assert '<canvas id="chart-daily"' in html
    # Colour comes with words: the band is named, not only coloured.
    assert "band-below" in html or "band-in" in html or "band-above" in html or "band-none" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("range=custom&start=2026-03-01", "needs both a From and a To date"),
        ("range=custom&start=2026-03-05&end=2026-03-01", "must be on or before"),
        ("range=custom&start=not-a-date&end=2026-03-01", "Enter a valid date"),
        ("range=custom&start=2020-01-01&end=2021-06-01", "at most 92 days"),
        ("range=12", "Select a valid choice"),
        ("tier=9", "Select a valid choice"),
        ("priority=%3Dcmd", "Select a valid choice"),
        ("category=abc", "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_clear_400(client, manager, query, message):
    client.force_login(manager)
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()
    api = client.get(f"/api/v1/metrics/summary/?{query}")
    assert api.status_code == 400
    assert message in api.content.decode()
    export = client.get(f"/dashboard/export/agents.csv?{query}")
    assert export.status_code == 400


def test_unknown_table_is_404(client, manager):
    client.force_login(manager)
    assert client.get("/dashboard/export/secrets.csv").status_code == 404


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Printer", "Printer"),
        (-3, -3),
        (None, ""),
    ],
)
def test_csv_cells_escape_formulas(value, expected):
    assert csv_cell(value) == expected


def test_csv_exports_escape_formula_injection(client, manager, make_ticket):
    evil = CategoryFactory(name="=cmd|' /C calc'!A0", slug="evil")
    make_ticket(category=evil)
    make_agent(1, username="@agent")
    client.force_login(manager)
    response = client.get("/dashboard/export/categories.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "category"
    assert rows[1][0] == "'=cmd|' /C calc'!A0"
    whole = client.get("/api/v1/metrics/summary/?format=csv")
    assert whole.status_code == 200
    cells = [c for row in csv.reader(io.StringIO(whole.content.decode())) for c in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert "=cmd|' /C calc'!A0" not in cells


def test_summary_api_json(client, manager, scenario):
    client.force_login(manager)
    response = client.get("/api/v1/metrics/summary/?range=custom&start=2026-03-10&end=2026-03-12")
    assert response.status_code == 200
    data = response.json()
    assert data["filters"]["start"] == "2026-03-10"
    for key in (
        "headline",
        "escalation_steps",
        "times",
        "per_tier",
        "agents",
        "vendors",
        "coaching",
        "funnel",
        "series",
        "categories",
        "articles",
    ):
        assert key in data


def test_table_csv_and_summary_csv_shapes(scenario):
    from datetime import date

    from reports.selectors import DashboardFilters, dashboard_summary

    s = dashboard_summary(filters=DashboardFilters(start=date(2026, 3, 10), end=date(2026, 3, 12)))
    text = table_csv("per-tier", s)
    assert text.splitlines()[0].startswith("tier,handled,resolved,escalated")
    assert len(text.splitlines()) == 5
    assert summary_csv(s).splitlines()[0] == "section,field,value"


def test_schema_documents_the_summary(client, manager):
    client.force_login(manager)
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/metrics/summary/" in schema["paths"]
    op = schema["paths"]["/api/v1/metrics/summary/"]["get"]
    assert "200" in op["responses"]


def test_rollup_task_runs(scenario):
    import time_machine

    from reports.tasks import reports_rollup_refresh

    from .conftest import NOW

    with time_machine.travel(NOW, tick=False):
        assert reports_rollup_refresh.delay().get() >= 2


def test_filter_controls_keep_the_choice_and_escape_names(client, manager):
    """The filter controls are written without Django's widget templates (for speed):
    they must still label every control, keep what was chosen and escape names."""
    from tests.factories import CategoryFactory

    evil = CategoryFactory(name='<script>alert("x")</script>')
    client.force_login(manager)
    html = client.get(f"/dashboard/?range=90&category={evil.pk}&priority=high&tier=2").content
    html = html.decode()
    assert "<script>alert" not in html
    assert f'<option value="{evil.pk}" selected>&lt;script&gt;' in html
    assert '<option value="high" selected>' in html
    assert '<option value="2" selected>' in html
    assert '<option value="90" selected>' in html
    for name in ("range", "start", "end", "category", "priority", "tier"):
        assert f'<label for="id_{name}">' in html
        assert f'id="id_{name}"' in html
    bad = client.get("/dashboard/?range=custom&start=2026-03-01&end=nope").content.decode()
    assert 'id="id_end" value="nope" aria-invalid="true" aria-describedby="id_end_error"' in bad
    assert 'id="id_end_error"' in bad


def test_the_cached_filter_form_follows_category_writes_and_the_choice(
    client, manager, django_capture_on_commit_callbacks
):
    """The rendered filter form is cached per chosen values and directory version: a
    renamed category shows at once, and another choice is never served the first's."""
    from tests.factories import CategoryFactory

    with django_capture_on_commit_callbacks(execute=True):
        category = CategoryFactory(name="Printers")
    client.force_login(manager)
    first = client.get(f"/dashboard/?range=30&category={category.pk}").content.decode()
    assert f'<option value="{category.pk}" selected>Printers</option>' in first
    again = client.get(f"/dashboard/?range=30&category={category.pk}").content.decode()
    assert f'<option value="{category.pk}" selected>Printers</option>' in again
    other = client.get("/dashboard/?range=7").content.decode()
    assert f'<option value="{category.pk}">Printers</option>' in other
    assert '<option value="7" selected>' in other and '<option value="30" selected>' not in other
    with django_capture_on_commit_callbacks(execute=True):
        category.name = "Printers and scanners"
        category.save()
    renamed = client.get(f"/dashboard/?range=30&category={category.pk}").content.decode()
    assert "Printers and scanners" in renamed
