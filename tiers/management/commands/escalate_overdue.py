"""``manage.py escalate_overdue``: one sweep now, and say what it did."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tiers.services import escalation_sweep, vendor_followup_sweep


class Command(BaseCommand):
    help = "Promote overdue tickets, fire due warnings and SLA checkpoints, chase vendors."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch", type=int, default=None, help="Tickets per transaction.")

    def handle(self, *args, **options) -> None:
        report = escalation_sweep(batch=options["batch"])
        followup = vendor_followup_sweep()
        lines = report.lines() + followup.lines()
        for line in lines:
            self.stdout.write(line)
        s = report.summary()
        self.stdout.write(
            self.style.SUCCESS(
                f"Sweep at {report.now:%Y-%m-%d %H:%M:%S} UTC: {s['promoted']} promoted, "
                f"{s['handed_off']} handed to vendors, {s['no_vendor']} without a vendor, "
                f"{s['warnings']} tier warnings, {s['sla_warnings']} SLA warnings, "
                f"{s['sla_breaches']} SLA breaches, {len(followup.chased)} vendors reminded, "
                f"{len(followup.overdue)} vendors overdue ({s['duration_ms']} ms)."
            )
        )
