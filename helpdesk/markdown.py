"""Markdown from users, rendered to HTML that is safe to show.

Markdown is rendered first, then *everything* goes through nh3 (an allow-list
sanitizer): raw HTML in the source, ``javascript:``/``data:`` links, event
attributes and ``<script>`` never survive, however they are spelled.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from collections.abc import Iterable

import markdown as md
import nh3
from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul", "dl", "dt", "dd",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "span": {"class"},
    "th": {"align"},
    "td": {"align"},
    "abbr": {"title"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
#: Extensions passed to Markdown (part of the cache fingerprint below).
EXTENSIONS = ("fenced_code", "tables", "sane_lists", "nl2br")


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str) -> SafeString:
    """User Markdown → sanitized HTML (safe to mark safe: nh3 ran last)."""
    html = md.markdown(
        text or "",
        extensions=list(EXTENSIONS),
        output_format="html",
    )
    return mark_safe(sanitize_html(html))


# ---------------------------------------------------------------------------
# Rendered HTML, shared through the cache
# ---------------------------------------------------------------------------
#: Bump when the rendering above changes in a way the fingerprint below cannot see.
RENDERER_REVISION = 1


def _fingerprint() -> str:
    """Everything the output depends on besides the text: our revision, the allow-lists,
    the extensions and both libraries' versions. A change to any of them is a new key
    space, so HTML rendered under the old rules is never served again."""
    parts = [
        str(RENDERER_REVISION),
        ",".join(sorted(ALLOWED_TAGS)),
        ";".join(f"{t}:{','.join(sorted(a))}" for t, a in sorted(ALLOWED_ATTRIBUTES.items())),
        ",".join(sorted(ALLOWED_SCHEMES)),
        ",".join(EXTENSIONS),
        getattr(md, "__version__", "?"),
        importlib.metadata.version("nh3"),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


RENDER_VERSION = _fingerprint()
#: Rendered HTML is a pure function of (text, RENDER_VERSION): it never goes stale, the
#: TTL only lets Redis forget bodies nobody looks at any more.
CACHE_TTL = 7 * 24 * 3600


def markdown_cache_key(text: str) -> str:
    # Content-addressed: the key is the text's digest, so an event, reply or article
    # whose text changes simply asks for another key; nothing needs invalidating.
    return f"md:{RENDER_VERSION}:{hashlib.sha256(text.encode()).hexdigest()}"


def render_markdown_many(texts: Iterable[str]) -> dict[str, SafeString]:
    """Render many texts at once (a ticket's timeline): one ``get_many`` for those
    rendered before, Markdown + nh3 for the rest, one ``set_many`` to share them.

    Returns ``{text: html}``. The cache holds only our own sanitized output, never the
    source; when Redis is unavailable everything is rendered here and the page works.
    """
    wanted = {text: markdown_cache_key(text) for text in set(texts) if text}
    if not wanted:
        return {}
    try:
        found = cache.get_many(list(wanted.values()))
    except Exception:  # a cache outage costs CPU, never the page
        logger.warning("cache unavailable; rendering Markdown without it")
        found = None
    out: dict[str, SafeString] = {}
    fresh: dict[str, str] = {}
    for text, key in wanted.items():
        html = found.get(key) if found else None
        if isinstance(html, str):
            out[text] = mark_safe(html)  # sanitized by nh3 before it was stored
        else:
            out[text] = render_markdown(text)
            fresh[key] = str(out[text])
    if fresh and found is not None:
        try:
            cache.set_many(fresh, CACHE_TTL)
        except Exception:
            logger.warning("cache unavailable; rendered Markdown not shared")
    return out
