"""A manager logs in, opens the dashboard and sees every chart drawn (not blank)."""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARTS = [
    "chart-daily",
    "chart-backlog",
    "chart-escalations",
    "chart-distribution",
    "chart-categories",
    "chart-articles",
]


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM
    # calls are synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def test_manager_sees_the_charts_drawn(live_server, browser, make_ticket, agent1):
    from tests.factories import ArticleFactory, UserFactory
    from tickets.services import core
    from tiers.models import AgentProfile

    boss = UserFactory(username="boss", password="pw-Boss-12345")
    AgentProfile.objects.create(user=boss, tier=3, is_manager=True)
    article = ArticleFactory(title="Reset your password", slug="reset-password")
    for i in range(3):
        ticket = make_ticket(subject=f"Ticket {i}")
        if i < 2:
            core.ticket_resolve(ticket=ticket, actor=agent1, resolution="Done.", article=article)
        else:
            core.ticket_escalate(
                ticket=ticket, actor=agent1, symptom="s", steps_tried="t", findings="f"
            )

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(msg) -> None:
        # Only the dashboard's own errors (the browser also asks for /favicon.ico).
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and urlparse(url).path.startswith("/dashboard/"):
            errors.append(f"{msg.text} @ {url}")

    page.on("console", on_console)
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-Boss-12345")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert page.locator("h1").inner_text() == "Resolution dashboard"
    assert page.locator("[data-figure=created]").inner_text() == "3"

    for chart_id in CHARTS:
        page.wait_for_selector(f"#{chart_id}[data-drawn='1']", state="attached", timeout=10000)
    result = page.evaluate(
        """(ids) => ids.map((id) => {
            const canvas = document.getElementById(id);
            const chart = window.Chart.getChart(canvas);
            const blank = document.createElement("canvas");
            blank.width = canvas.width; blank.height = canvas.height;
            return {
                id: id,
                datasets: chart ? chart.data.datasets.length : 0,
                points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0,
                drawn: canvas.toDataURL().length,
                empty: blank.toDataURL().length,
            };
        })""",
        CHARTS,
    )
    for chart in result:
        assert chart["datasets"] > 0, chart
        assert chart["points"] > 0, chart
        # A drawn canvas compresses far worse than a blank one of the same size.
        assert chart["drawn"] > chart["empty"] * 2, chart
    assert errors == []
