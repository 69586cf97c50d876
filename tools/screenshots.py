#!/usr/bin/env python3
"""Retake the README's screenshots (docs/screenshots/) from the demo desk.

What `make run` serves, in a throwaway var/ directory: the embedded PostgreSQL,
migrations, the database cache table, ``seed_demo`` with its 90 days of history and the
open tickets, and gunicorn as the Procfile runs it. Debian's chromium (Playwright)
then visits the pages each demo role sees and saves one picture per README section.

    make screenshots
    .venv/bin/python tools/screenshots.py --keep   # leave the var/ directory for a look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpdesk import embedded_pg  # noqa: E402
from tests.ports import ephemeral_port  # noqa: E402

DEFAULT_OUT = ROOT / "docs" / "screenshots"
PY = sys.executable

#: Which demo objects the pictures show, found once the desk is seeded.
PICK = """
import json
from django.db.models import Count, Q
from django.utils import timezone
from tickets.models import Ticket, TicketEvent
from tiers.models import VendorHandoff
from tiers.tokens import vendor_link_path

# A Tier 2 ticket that Tier 1 handed over: the timeline shows what Tier 1 already tried.
handed = (Ticket.objects.filter(tier=2, status__in=Ticket.ACTIVE_STATUSES,
                                events__kind=TicketEvent.Kind.ESCALATED)
          .annotate(steps=Count("events")).order_by("-steps").first())
# The customer's ticket with the longest public conversation shows the most.
tracked = (Ticket.objects.filter(requester__username="customer")
           .annotate(said=Count("events", filter=Q(events__is_public=True)))
           .order_by("-said", "-created_at").first())
handoff = (VendorHandoff.objects.filter(done_at=None, revoked_at=None, expires_at__gt=timezone.now())
           .order_by("-created_at").first())
print(json.dumps({
    "agent_ticket": handed.reference,
    "tracking": tracked.get_tracking_url(),
    "vendor": vendor_link_path(handoff) if handoff else None,
}))
"""


def step(message: str) -> None:
    print(f"[screenshots] {message}", file=sys.stderr, flush=True)


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.3)


def shoot(base_url: str, picks: dict, out: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    taken: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )

        def person(username: str | None):
            context = browser.new_context(
                base_url=base_url, viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(20_000)
            page = context.new_page()
            if username:
                page.goto("/accounts/login/")
                page.get_by_label("Username or e-mail").fill(username)
                page.get_by_label("Password").fill("demo")
                page.get_by_role("button", name="Log in").click()
                page.wait_for_load_state("networkidle")
            return page

        def save(page, name: str) -> None:
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{name}.png"))
            taken.append(name)
            step(f"{name}.png")

        customer = person("customer")
        customer.goto("/")
        save(customer, "portal-home")
        customer.goto("/tickets/new/")
        customer.get_by_label("What is it about?").select_option(label="Password reset")
        customer.get_by_label("Subject").fill("Cannot log in after the holidays")
        customer.get_by_label("Describe the problem").press_sequentially(
            "I forgot my pasword and the account is locked", delay=10
        )
        customer.locator("#suggestions a").first.wait_for()
        save(customer, "ticket-form-suggestions")
        customer.goto(picks["tracking"])
        save(customer, "tracking-page")

        agent = person("agent1")
        agent.goto("/agent/")
        save(agent, "agent-queue")
        tier2 = person("agent2")
        tier2.goto(f"/agent/tickets/{picks['agent_ticket']}/")
        save(tier2, "agent-ticket")

        if picks["vendor"]:
            vendor = person(None)
            vendor.goto(picks["vendor"])
            save(vendor, "vendor-page")
        else:
            step("no open vendor hand-off in the demo: vendor-page.png left as it was")

        manager = person("manager")
        manager.goto("/dashboard/")
        save(manager, "dashboard")
        manager.evaluate("document.querySelector('section.chart-grid').scrollIntoView()")
        manager.wait_for_timeout(800)  # the charts animate in
        manager.screenshot(path=str(out / "dashboard-charts.png"))
        taken.append("dashboard-charts")
        step("dashboard-charts.png")
        browser.close()
    return taken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the throwaway var/ directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the pictures go")
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("Debian's chromium is not installed (make chromium installs it)")

    var_dir = Path(tempfile.mkdtemp(prefix="tierdesk-shots-"))
    server = embedded_pg.Server(var_dir)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}  # as make run: none
    }
    env.update(DATABASE_URL=server.url(), TIERDESK_VAR_DIR=str(var_dir))
    web = None
    try:
        step(f"embedded PostgreSQL in {var_dir}")
        server.start(fast=True)
        step("migrate")
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        step("seed_demo (90 days of history and the open tickets)")
        manage(env, "seed_demo")
        picks = json.loads(manage(env, "shell", "-c", PICK).strip().splitlines()[-1])
        port = ephemeral_port()
        web = subprocess.Popen(
            [PY, "-m", "gunicorn", "helpdesk.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        wait_http(f"{base_url}/healthz")
        step(f"gunicorn on {base_url}")
        taken = shoot(base_url, picks, args.out)
        step(f"{len(taken)} screenshots in {args.out}")
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=20)
        server.stop()
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
