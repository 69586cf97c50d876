from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from knowledgebase.models import Article
from tests.factories import ArticleFactory, CategoryFactory


@pytest.mark.django_db
def test_export_then_import_round_trips_and_is_idempotent(tmp_path):
    cat = CategoryFactory(slug="network", name="Network")
    ArticleFactory(
        slug="vpn",
        title='VPN: "Authentication failed"',
        summary="Fix it: quickly",
        body="| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```\n",
        category=cat,
        tags=["vpn", "remote"],
        audience="internal",
        min_tier=2,
        owning_tier=2,
    )
    ArticleFactory(slug="draft-one", title="Draft", status="draft", body="Draft text\n")
    fields = (
        "slug",
        "title",
        "summary",
        "body",
        "category__slug",
        "tags",
        "audience",
        "min_tier",
        "owning_tier",
        "status",
    )
    before = sorted(Article.objects.values_list(*fields))

    call_command("kb_export", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["draft-one.md", "vpn.md"]
    Article.objects.all().delete()
    call_command("kb_import", str(tmp_path))
    assert sorted(Article.objects.values_list(*fields)) == before
    # Published imports start the version history.
    assert Article.objects.get(slug="vpn").versions.count() == 1

    call_command("kb_import", str(tmp_path))  # same files: nothing changes
    assert sorted(Article.objects.values_list(*fields)) == before
    assert Article.objects.get(slug="vpn").versions.count() == 1

    path = tmp_path / "vpn.md"
    path.write_text(path.read_text().replace("code", "better code"))
    call_command("kb_import", str(tmp_path))
    assert "better code" in Article.objects.get(slug="vpn").body
    assert Article.objects.get(slug="vpn").versions.count() == 2


@pytest.mark.django_db
def test_import_rejects_bad_files_without_partial_writes(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: Good\n---\nBody\n")
    (tmp_path / "b.md").write_text("---\ntitle: Bad\naudience: everyone\n---\nBody\n")
    with pytest.raises(CommandError, match="unknown audience"):
        call_command("kb_import", str(tmp_path))
    assert not Article.objects.exists()
    with pytest.raises(CommandError, match="not a directory"):
        call_command("kb_import", str(tmp_path / "missing"))
