"""``manage.py ingest_email < message.eml``: one raw message from standard input (an
MTA pipe, a saved file), through the same service as the mailbox and the endpoint."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from emailchannel.models import InboundMessage
from emailchannel.services import mail_ingest


class Command(BaseCommand):
    help = "Read one RFC 5322 message from standard input (or --file) and take it in."

    def add_arguments(self, parser):
        parser.add_argument("--file", help="read the message from this file instead of stdin")

    def handle(self, *args, **options):
        if options["file"]:
            try:
                with open(options["file"], "rb") as handle:
                    raw = handle.read()
            except OSError as exc:
                raise CommandError(f"Cannot read {options['file']}: {exc.strerror}") from exc
        else:
            raw = sys.stdin.buffer.read()
        if not raw.strip():
            raise CommandError("No message on standard input.")
        result = mail_ingest(raw=raw, source=InboundMessage.Source.COMMAND)
        line = result.outcome + (" (duplicate)" if result.duplicate else "")
        if result.ticket_reference:
            line += f": {result.ticket_reference}"
        if result.quarantine_id:
            line += f": quarantine #{result.quarantine_id}"
        if result.detail:
            line += f" — {result.detail}"
        self.stdout.write(line)
