"""Build the dashboard's daily rollups now (what the beat task does every hour)."""

from __future__ import annotations

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reports.services import rollup_build_days, rollup_refresh


class Command(BaseCommand):
    help = "Build missing daily rollups (or rebuild --from/--to) and print how long it took."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="first", type=date.fromisoformat)
        parser.add_argument("--to", dest="last", type=date.fromisoformat)
        parser.add_argument(
            "--progress",
            action="store_true",
            help="print a line per chunk of days built (long backfills, bench seeding)",
        )

    def handle(self, *args, **opts) -> None:
        started = self._started = time.monotonic()
        if opts["first"] or opts["last"]:
            if not (opts["first"] and opts["last"]):
                raise CommandError("Give both --from and --to.")
            days = rollup_build_days(first=opts["first"], last=opts["last"])
        else:
            days = rollup_refresh(on_progress=self._progress if opts["progress"] else None)
        self.stdout.write(f"{days} day(s) built in {time.monotonic() - started:.1f}s")

    def _progress(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self._started
        eta = elapsed / done * (total - done) if done else 0.0
        self.stderr.write(
            f"reports rollup: {done:,}/{total:,} days ({done * 100 // max(total, 1)}%) "
            f"{elapsed:.0f}s, eta {eta:.0f}s"
        )
        self.stderr.flush()
