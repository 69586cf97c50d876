"""Import KB articles from Markdown files with front matter, idempotently by slug."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from helpdesk.exceptions import DomainError
from knowledgebase.markdown_files import parse_article_file
from knowledgebase.services import article_import


class Command(BaseCommand):
    help = (
        "Create or update articles from DIR/*.md (front matter + Markdown). Running it "
        "twice changes nothing the second time; published text changes keep a version."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--author", help="Username recorded as author of new articles.")

    def handle(self, *args, directory: Path, author: str | None, **options) -> None:
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        user = None
        if author:
            user = get_user_model().objects.filter(username=author).first()
            if user is None:
                raise CommandError(f"No user {author!r}.")
        files = sorted(directory.glob("*.md"))
        if not files:
            raise CommandError(f"No .md files in {directory}.")
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        # All or nothing: a bad file leaves the KB as it was.
        with transaction.atomic():
            for path in files:
                try:
                    parsed = parse_article_file(path)
                    _, outcome = article_import(parsed=parsed, author=user)
                except (ValueError, DomainError) as exc:
                    raise CommandError(f"{path.name}: {exc}") from exc
                counts[outcome] += 1
                if options["verbosity"] > 1:
                    self.stdout.write(f"{outcome:9} {parsed.slug}")
        self.stdout.write(
            self.style.SUCCESS(
                "Imported {n} files: {created} created, {updated} updated, "
                "{unchanged} unchanged.".format(n=len(files), **counts)
            )
        )
