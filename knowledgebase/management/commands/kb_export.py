"""Export KB articles as Markdown files with front matter (one file per slug)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from knowledgebase.markdown_files import write_article_file
from knowledgebase.models import Article
from knowledgebase.services import article_export


class Command(BaseCommand):
    help = "Write every article (or only --status ones) to DIR/<slug>.md, for kb_import."

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--status",
            action="append",
            choices=Article.Status.values,
            help="Only articles in this status (repeatable). Default: all.",
        )

    def handle(self, *args, directory: Path, status: list[str] | None, **options) -> None:
        if directory.exists() and not directory.is_dir():
            raise CommandError(f"{directory} exists and is not a directory.")
        directory.mkdir(parents=True, exist_ok=True)
        qs = Article.objects.select_related("category").order_by("slug")
        if status:
            qs = qs.filter(status__in=status)
        count = 0
        for article in qs.iterator(chunk_size=500):
            write_article_file(directory, article_export(article=article))
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Exported {count} articles to {directory}."))
