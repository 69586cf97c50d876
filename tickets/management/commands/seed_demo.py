"""Idempotent demo data: run it any number of times, the result is the same.

Two parts:

* **The bare desk** (always): the demo users, categories, policies, calendar, vendor,
  canned responses and KB articles, created or refreshed in place.
* **The living desk** (unless ``--no-history``): ~90 days of ticket history (about
  1,500 tickets with conversations, notes, hand-offs, timer promotions, bounces,
  avoidable marks, two vendor hand-offs, ratings, KB deflections and views) and ~20
  tickets open in the queues now, some minutes from their escalation deadline; then
  the dashboard rollups are refreshed so the figures show at once. See
  ``tickets.demo.history`` for how the rows are made.

**Idempotency of the history — the decision:** it is written only into an *empty*
desk, one without any ticket. A second run finds the tickets of the first and adds
nothing (it says so); so does a run on a desk that real people already use, whose
reports must never be mixed with invented tickets. To regenerate it, empty the
database (or run on a fresh one). Everything is one transaction: an interrupted run
leaves nothing half-written, and the next run starts again from an empty desk.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import demo_data
from knowledgebase.markdown_files import parse_article_file
from knowledgebase.models import Article
from tickets.models import CannedResponse, Category, Ticket
from tiers.models import AgentProfile, BusinessCalendar, EscalationPolicy, SLAPolicy, VendorContact

DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo logins, never for production
ARTICLE_DIR = Path(__file__).resolve().parents[3] / "knowledgebase" / "demo_articles"

USERS = [
    # username, first, last, email, tier or None, manager, staff
    ("agent1", "Alex", "Frontline", "agent1@tierdesk.local", 1, False, False),
    ("agent2", "Blair", "Technical", "agent2@tierdesk.local", 2, False, False),
    ("agent3", "Casey", "Engineer", "agent3@tierdesk.local", 3, False, False),
    ("manager", "Morgan", "Manager", "manager@tierdesk.local", 3, True, True),
    ("customer", "Chris", "Customer", "customer@example.com", None, False, False),
]


class Command(BaseCommand):
    help = (
        "Create or refresh the demo users, categories, policies, vendor and KB articles, "
        "and (into an empty desk) ~90 days of ticket history and a live queue."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="Only the bare desk: users, categories, policies, vendor, KB (no tickets).",
        )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        self._calendar()
        categories = self._categories()
        self._policies()
        self._vendor(categories)
        users = self._users()
        self._canned()
        count = self._articles(categories, author=users["agent3"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(categories)} categories, {count} KB articles, "
                f"{EscalationPolicy.objects.count()} escalation policies."
            )
        )
        if not options["no_history"]:
            self._history(users, started=started)
        self.stdout.write(
            "Logins (password 'demo'): agent1 (Tier 1), agent2 (Tier 2), agent3 (Tier 3), manager, customer"
        )
        self.stdout.write(f"seed_demo took {time.monotonic() - started:.1f}s")

    def _history(self, users: dict, *, started: float) -> None:
        from reports.services import rollup_refresh
        from tickets.demo.history import HistoryBuilder
        from tickets.services.events import tickets_loaded

        existing = Ticket.objects.count()
        if existing:
            self.stdout.write(
                f"history: skipped, the desk already has {existing:,} tickets "
                "(history is only written into an empty desk)"
            )
            return

        def progress(line: str) -> None:
            self.stdout.write(f"{line}  ({time.monotonic() - started:.1f}s)")

        builder = HistoryBuilder(now=timezone.now(), users=users, progress=progress)
        builder.build()
        counts = builder.write()
        tickets_loaded()  # bulk_create sends no post_save
        if connection.vendor == "postgresql":
            days = rollup_refresh(
                on_progress=lambda done, total: progress(f"rollups: {done}/{total} days")
            )
            progress(f"rollups: {days} days built")
        self.stdout.write(
            self.style.SUCCESS(
                f"History ready: {counts['tickets']:,} tickets ({counts['open']} open now), "
                f"{counts['events']:,} events, {counts['ratings']:,} ratings, "
                f"{counts['deflections']:,} KB suggestions."
            )
        )

    def _calendar(self) -> BusinessCalendar:
        calendar, _ = BusinessCalendar.objects.get_or_create(
            name="24×7", defaults={"time_zone": "UTC", "is_24x7": True}
        )
        if not BusinessCalendar.objects.filter(is_default=True).exists():
            calendar.is_default = True
            calendar.save(update_fields=["is_default"])
        return calendar

    def _categories(self) -> dict[str, Category]:
        result = {}
        for order, (name, slug, tier, priority, description) in enumerate(demo_data.CATEGORIES):
            category, _ = Category.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "entry_tier": tier,
                    "default_priority": priority,
                    "description": description,
                    "sort_order": order,
                },
            )
            result[slug] = category
        return result

    def _policies(self) -> None:
        for tier, budgets in demo_data.POLICIES.items():
            for priority, budget in budgets.items():
                # get_or_create: an admin's later edit of a budget survives a re-seed.
                EscalationPolicy.objects.get_or_create(
                    tier=tier, priority=priority, defaults={"budget": budget}
                )
        for priority, (first, resolution) in demo_data.SLA.items():
            SLAPolicy.objects.get_or_create(
                priority=priority, defaults={"first_response": first, "resolution": resolution}
            )

    def _vendor(self, categories: dict[str, Category]) -> None:
        vendor, _ = VendorContact.objects.get_or_create(
            email="support@northwind-hw.example",
            defaults={
                "name": "Dana Vendor",
                "company": "Northwind Hardware",
                "phone": "+1 555 0100",
                "contract_reference": "NW-SLA-2026-014",
            },
        )
        vendor.categories.add(*[categories[s] for s in demo_data.VENDOR_CATEGORY_SLUGS])

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, first, last, email, tier, manager, staff in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": email,
                    "is_staff": staff,
                },
            )
            if created or not user.check_password(DEMO_PASSWORD):
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            if tier is not None:
                AgentProfile.objects.update_or_create(
                    user=user, defaults={"tier": tier, "is_manager": manager, "is_active": True}
                )
            users[username] = user
        return users

    def _canned(self) -> None:
        for title, tier, body in demo_data.CANNED_RESPONSES:
            CannedResponse.objects.get_or_create(title=title, defaults={"tier": tier, "body": body})

    def _articles(self, categories: dict[str, Category], *, author) -> int:
        from knowledgebase.services import article_import

        slugs = []
        for path in sorted(ARTICLE_DIR.glob("*.md")):
            # overwrite=False: an article edited in the app survives a re-seed.
            article, _ = article_import(
                parsed=parse_article_file(path),
                author=author,
                categories=categories,
                overwrite=False,
            )
            slugs.append(article.slug)
        return Article.objects.filter(slug__in=slugs).count()
