"""Markdown files with front matter <-> article fields (used by seed_demo, kb_import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ArticleFile:
    slug: str
    title: str
    body: str
    summary: str = ""
    audience: str = "public"
    min_tier: int = 1
    category: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = "published"


def parse_article_file(path: Path) -> ArticleFile:
    """Parse ``---``-delimited ``key: value`` front matter followed by a Markdown body."""
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---\n"):
        head, sep, rest = text[4:].partition("\n---\n")
        if not sep:
            raise ValueError(f"{path.name}: front matter is not closed with ---")
        body = rest
        for line in head.splitlines():
            if not line.strip():
                continue
            key, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"{path.name}: bad front matter line {line!r}")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            meta[key.strip()] = value
    if not meta.get("title"):
        raise ValueError(f"{path.name}: a title is required")
    return ArticleFile(
        slug=meta.get("slug") or path.stem,
        title=meta["title"],
        body=body.strip() + "\n",
        summary=meta.get("summary", ""),
        audience=meta.get("audience", "public"),
        min_tier=int(meta.get("min_tier", "1")),
        category=meta.get("category", ""),
        tags=[t.strip() for t in meta.get("tags", "").split(",") if t.strip()],
        status=meta.get("status", "published"),
    )
