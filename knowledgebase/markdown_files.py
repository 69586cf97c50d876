"""Markdown files with front matter <-> article fields (seed_demo, kb_import, kb_export).

Format: a ``---`` line, ``key: value`` lines, a ``---`` line, then the Markdown body.
Keys: title (required), slug (default: the file name), summary, audience
(public/internal), min_tier, owning_tier, category (a category slug), tags
(comma-separated), status (default published). Values may be wrapped in quotes.
"""

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
    owning_tier: int | None = None


def parse_article_file(path: Path) -> ArticleFile:
    """Parse ``---``-delimited ``key: value`` front matter followed by a Markdown body."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
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
        owning_tier=int(meta["owning_tier"]) if meta.get("owning_tier") else None,
    )


def _front_value(value: str) -> str:
    value = " ".join(str(value).split())  # front matter values are single lines
    if not value:
        return '""'
    if value[0] in "\"'" or value[-1] in "\"'" or ":" in value or value.startswith(("-", "#")):
        # The parser strips exactly one pair of matching outer quotes, so inner quotes survive.
        return f'"{value}"'
    return value


def render_article_file(article: ArticleFile) -> str:
    """The text of a file that ``parse_article_file`` reads back to the same fields."""
    lines = [
        "---",
        f"title: {_front_value(article.title)}",
        f"slug: {article.slug}",
        f"summary: {_front_value(article.summary)}",
        f"audience: {article.audience}",
        f"min_tier: {article.min_tier}",
    ]
    if article.owning_tier:
        lines.append(f"owning_tier: {article.owning_tier}")
    lines += [
        f"category: {article.category}",
        f"tags: {_front_value(', '.join(t.replace(',', ' ') for t in article.tags))}",
        f"status: {article.status}",
        "---",
    ]
    return "\n".join(lines) + "\n" + article.body.strip() + "\n"


def write_article_file(directory: Path, article: ArticleFile) -> Path:
    path = directory / f"{article.slug}.md"
    path.write_text(render_article_file(article), encoding="utf-8")
    return path
