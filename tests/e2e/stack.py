"""Fixtures for browser journeys: Debian's chromium through Playwright, and a real
Celery worker + beat against Redis serving the live test server's database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dburl import url_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:  # make test installs it; a missing browser must fail, not skip
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium, live_server):
    """A factory of fresh browser contexts (one per person in a journey)."""
    contexts = []

    def _new_page():
        context = chromium.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "dialog",
            lambda d: (_ for _ in ()).throw(AssertionError(f"unexpected dialog: {d.message}")),
        )
        return page

    yield _new_page
    for context in contexts:
        context.close()
    # ORM calls the journey made while Playwright ran may hold connections of their
    # own: close them, or the test database cannot be dropped at the end.
    from django.db import connections

    connections.close_all()


def login(page, username: str, password: str = "demo") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or e-mail").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("domcontentloaded")


@pytest.fixture
def celery_stack(live_server, tmp_path) -> Iterator[dict]:
    """A real worker and beat against Redis, on the live server's (test) database."""
    from django.db import connection

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
    base, _, own_db = redis_url.rpartition("/")
    # The worker gets a Redis DB of its own, derived from REDIS_URL's (0 → 9, 1 → 10…)
    # so that engineers and CI jobs with different REDIS_URLs never share (and FLUSHDB)
    # one another's broker; E2E_WORKER_REDIS_DB overrides it.
    worker_db = os.environ.get("E2E_WORKER_REDIS_DB") or str(
        (int(own_db) + 9) % 16 if own_db.isdigit() else 9
    )
    broker = f"{base}/{worker_db}"
    database_url = url_of(connection.settings_dict)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "REDIS_URL": broker,
        "ESCALATION_SWEEP_SECONDS": "1",
        "TICKET_LIFECYCLE_SECONDS": "1",
        "EMAIL_URL": "filemail://",
        "EMAIL_FILE_PATH": str(mail_dir),
        "TIERDESK_SITE_URL": live_server.url,
        "TIERDESK_VAR_DIR": str(tmp_path / "var"),
    }
    subprocess.run(["redis-cli", "-u", broker, "FLUSHDB"], check=False, capture_output=True)
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("worker", "beat")}  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=logs["worker"], stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "beat", "--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=env, stdout=logs["beat"], stderr=subprocess.STDOUT,
        ),
    ]  # fmt: skip
    try:
        yield {"mail_dir": mail_dir, "env": env, "logs": tmp_path}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for handle in logs.values():
            handle.close()
        subprocess.run(["redis-cli", "-u", broker, "FLUSHDB"], check=False, capture_output=True)


def wait_until(
    predicate, *, timeout: float = 30, interval: float = 0.25, message: str = "condition"
):
    """Poll a condition (not a sleep): returns its truthy value or fails with ``message``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}")


# ---------------------------------------------------------------------------
# Journeys: demo data, short budgets, and the steps several journeys share
# ---------------------------------------------------------------------------


@pytest.fixture
def demo(settings):
    """``seed_demo`` users, categories, policies, vendor and articles, with a cache of
    this test's own (rate-limit counters of earlier journeys do not carry over)."""
    import io
    import uuid

    from django.core.management import call_command

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"e2e-{uuid.uuid4().hex}",
        }
    }
    call_command("seed_demo", "--no-history", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    return {u.username: u for u in get_user_model().objects.all()}


def shorten_budgets(**seconds_per_tier: float) -> None:
    """Set every priority's escalation budget of the given tiers (``tier1=2``, …) to a
    few seconds: the sweep then acts on them within the journey."""
    from datetime import timedelta

    from tiers.models import EscalationPolicy

    for key, seconds in seconds_per_tier.items():
        tier = int(key.removeprefix("tier"))
        EscalationPolicy.objects.filter(tier=tier).update(budget=timedelta(seconds=seconds))


def submit_ticket(
    page, *, category: str, subject: str, description: str, name: str = "", email: str = ""
):
    """Fill in and send the portal form; returns the Ticket once the thank-you page shows."""
    from playwright.sync_api import expect

    from tickets.models import Ticket

    page.goto("/tickets/new/")
    if name:
        page.get_by_label("Your name").fill(name)
    if email:
        page.get_by_label("Your e-mail").fill(email)
    page.get_by_label("What is it about?").select_option(label=category)
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Describe the problem").fill(description)
    page.get_by_role("button", name="Submit ticket").click()
    expect(page.get_by_role("heading", name="Thank you, we have your ticket")).to_be_visible()
    reference = page.locator(".reference").inner_text()
    return Ticket.objects.get(reference=reference)


def mail_to(mail_dir: Path, address: str) -> list[str]:
    """The messages the worker wrote (filemail backend) that were sent to ``address``."""
    found = []
    for path in sorted(mail_dir.glob("*")):
        text = path.read_text(errors="replace")
        for message in text.split("-" * 79):
            if f"To: {address}" in message or f", {address}" in message:
                found.append(message)
    return found


#: The dashboard's charts, by canvas id.
CHARTS = (
    "chart-daily",
    "chart-backlog",
    "chart-escalations",
    "chart-distribution",
    "chart-categories",
    "chart-articles",
)


def assert_charts_drawn(page) -> None:
    """Every dashboard chart has data and is drawn: Chart.js rendered it with at least
    one point, and its canvas is not blank."""
    for chart_id in CHARTS:
        page.wait_for_selector(f"#{chart_id}[data-drawn='1']", state="attached")
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
        list(CHARTS),
    )
    for chart in result:
        assert chart["datasets"] > 0, chart
        assert chart["points"] > 0, chart
        # A drawn canvas compresses far worse than a blank one of the same size.
        assert chart["drawn"] > chart["empty"] * 2, chart
