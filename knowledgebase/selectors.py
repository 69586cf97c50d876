"""KB reads. Customers only ever see published public articles.

Search runs on PostgreSQL full-text search (weighted vectors kept by a trigger, see
migration 0004) plus trigram similarity on titles for typos. Every read starts from
``article_list_visible_to``, so visibility is decided in one place.
"""

from __future__ import annotations

import difflib
import hashlib
import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nh3
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    TrigramWordSimilarity,
)
from django.db import connection, transaction
from django.db.models import Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Left
from django.utils.safestring import SafeString, mark_safe

from helpdesk import cache
from tiers.selectors import agent_profile_of, user_is_manager, user_max_tier

from .models import Article, ArticleVersion, SearchLog

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser | None

MAX_QUERY_CHARS = 200
MAX_SEARCH_WORDS = 8
MAX_SUGGEST_WORDS = 10
SEARCH_CANDIDATES = 60
TYPO_FALLBACK_BELOW = 3
#: ts_headline parses and stems all the text it is given: ~0.3 ms a row for 1,200
#: characters, most of a search's database time at 20 rows. 600 characters (~100 words)
#: still hold two 28-word fragments; over 200 results of 10 queries on the bench KB as
#: many snippets show a hit with 600 as with 1,200 (199).
SNIPPET_SOURCE_CHARS = 600
# Markers ts_headline puts around hits; HTML-escaping leaves them intact, so they can
# be swapped for <mark> after the text is escaped.
_HIT_START, _HIT_STOP = "⟦hit⟧", "⟦/hit⟧"
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_MD_LINK_RE = re.compile(r"\]\([^)]*\)")
_MD_NOISE_RE = re.compile(r"[*_`#>|]+|-{3,}|!\[|\[")


#: A backstop only: KB pieces are named by the KB counter, so they never need to
#: expire to be correct; this bounds what an unused class leaves in Redis.
KB_PIECE_TTL = 24 * 3600


def visibility_class(user: AnyUser) -> str:
    """The part of a cache key that says which articles a reader may see; readers in
    one class see exactly the same articles (``_audience_filter``)."""
    if user_is_manager(user):
        return "all"
    max_tier = user_max_tier(user)
    return f"tier{max_tier}" if max_tier else "public"


def kb_cached(user: AnyUser, pieces: dict[str, Any]) -> dict[str, Any]:
    """``{name: compute}`` → ``{name: value}``, shared by the reader's visibility class
    under the KB counter (``helpdesk.cache.KB``, bumped by every article, category and
    vote write): two round trips on a hit, computed uncached with the cache down."""
    version = cache.version(cache.KB)
    group = visibility_class(user)
    keyed = {
        name: (f"kb:{name}:{group}:{version}" if version is not None else None, compute)
        for name, compute in pieces.items()
    }
    return cache.shared(keyed, KB_PIECE_TTL)


def normalize_query(query: str) -> str:
    """Lowercase, whitespace collapsed, capped: how searches are counted."""
    return " ".join((query or "").lower().split())[:MAX_QUERY_CHARS]


def query_words(text: str, *, limit: int) -> list[str]:
    """Letters and digits only: nothing from the user reaches tsquery syntax."""
    words: list[str] = []
    for word in _WORD_RE.findall((text or "").lower()):
        word = word[:40]
        if word not in words:
            words.append(word)
        if len(words) >= limit:
            break
    return words


# ---------------------------------------------------------------------------
# Visibility
# ---------------------------------------------------------------------------


def _audience_filter(user: AnyUser) -> Q | None:
    """``None`` means every audience (managers); otherwise what this reader may see."""
    if user_is_manager(user):
        return None
    max_tier = user_max_tier(user)
    if max_tier:
        return Q(audience=Article.Audience.PUBLIC) | Q(min_tier__lte=max_tier)
    return Q(audience=Article.Audience.PUBLIC)


def article_list_visible_to(*, user: AnyUser) -> QuerySet[Article]:
    """Published articles the user may read: customers and visitors the public ones,
    agents also internal ones from their tier down, managers all."""
    # No select_related here: callers narrow it with .only() (the portal does).
    qs = Article.objects.filter(status=Article.Status.PUBLISHED)
    condition = _audience_filter(user)
    return qs if condition is None else qs.filter(condition)


def article_get_visible_to(*, user: AnyUser, slug: str, impact: bool = False) -> Article:
    """The article ``slug`` if the user may read it (404 otherwise); ``impact`` also
    annotates its resolved and deflected counts (``with_impact``) in the same query."""
    from django.shortcuts import get_object_or_404

    qs = article_list_visible_to(user=user).select_related("category")
    return get_object_or_404(with_impact(qs) if impact else qs, slug=slug)


def user_is_kb_author(user: AnyUser) -> bool:
    """Any agent (every tier) and any manager may write drafts."""
    return agent_profile_of(user) is not None or user_is_manager(user)


def user_is_kb_reviewer(user: AnyUser) -> bool:
    """Tier 2 and 3 agents and managers review and publish."""
    if user_is_manager(user):
        return True
    profile = agent_profile_of(user)
    return bool(profile and profile.tier >= 2)


def user_sees_kb_gaps(user: AnyUser) -> bool:
    if user_is_manager(user):
        return True
    profile = agent_profile_of(user)
    return bool(profile and profile.tier >= 3)


def article_manage_list_visible_to(*, user: AnyUser) -> QuerySet[Article]:
    """Every status, for staff: the audience rule still applies, so a Tier 2 agent
    never reads a Tier 3 runbook, even as a draft. Non-staff get nothing."""
    if not user_is_kb_author(user):
        return Article.objects.none()
    qs = Article.objects.select_related("category", "author", "reviewer")
    condition = _audience_filter(user)
    return qs if condition is None else qs.filter(condition)


# ---------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------


def _tsquery(words: list[str], *, joiner: str, prefix_min: int) -> str:
    """A raw tsquery from sanitized words; the last one matches as a prefix (the user
    is still typing it) when it is long enough to be selective."""
    terms = list(words)
    if terms and len(terms[-1]) >= prefix_min:
        terms[-1] += ":*"
    return f" {joiner} ".join(terms)


def _plain_snippet(raw: str) -> SafeString:
    """ts_headline output (Markdown source with hit markers) → safe HTML with <mark>."""
    text = _MD_LINK_RE.sub("]", raw)
    text = _MD_NOISE_RE.sub(" ", text)
    text = " ".join(text.split())
    text = html.escape(text).replace(_HIT_START, "<mark>").replace(_HIT_STOP, "</mark>")
    # nh3 closes any <mark> left open by a marker that came from the article itself.
    return mark_safe(nh3.clean(text, tags={"mark"}, attributes={}))


def _listing_snippet(article: Article) -> SafeString:
    """The start of the summary (or body) as escaped text, for the listing an empty
    query shows: there are no hits to mark."""
    source = article.summary or article.body[:240]
    return mark_safe(html.escape(" ".join(_MD_NOISE_RE.sub(" ", source).split())[:240]))


def kb_search_page_pieces(
    *, user: AnyUser, query: str, limit: int = 30, with_topics: bool = True
) -> tuple[str | None, str]:
    """The search page's two costly pieces as HTML: the topic facet and the results
    of ``query``. Both are the same for every reader of a visibility class (who typed
    exactly ``query``: the markup repeats it), so both are cached under the KB version
    (``kb_cached``) and read in one go: two Redis round trips, no query and
    no template loop on a hit. They are rendered without the request (no user, no
    CSRF token, nothing per reader). A search that finds nothing is still counted for
    the KB-gap list on every view, cached or not."""
    from django.template.loader import render_to_string
    from django.utils import translation
    from django.utils.safestring import mark_safe

    lang = translation.get_language() or ""

    def results_piece() -> tuple[str, int]:
        results = article_search(user=user, query=query, limit=limit, log_miss=False)
        html_ = render_to_string(
            "knowledgebase/_results.html", {"query": query, "topic": None, "results": results}
        )
        return str(html_), len(results)

    pieces = {}
    # A query without words lists the most helpful articles, ordered by view_count,
    # which every article view changes: not cached.
    words = query_words(normalize_query(query), limit=MAX_SEARCH_WORDS)
    digest = hashlib.sha256(query.encode()).hexdigest()[:32]
    results_key = f"results-html:{lang}:{limit}:{digest}"
    topics_key = f"topics-html:{lang}"
    if words:
        pieces[results_key] = results_piece
    if with_topics:
        pieces[topics_key] = lambda: str(
            render_to_string(
                "knowledgebase/_topics.html", {"topics": _article_topics_uncached(user=user)}
            )
        )
    found = kb_cached(user, pieces) if pieces else {}
    results_html, count = found[results_key] if words else results_piece()
    if not count:
        search_log_miss(query=normalize_query(query))
    # Our own template output, escaped when it was rendered.
    topics_html = mark_safe(found[topics_key]) if with_topics else None
    return topics_html, mark_safe(results_html)


def _search_piece(*, user: AnyUser, query: str, limit: int):
    """The cache name and computation of a search, or ``(None, None)`` when it is not
    cached (no words: the "most helpful" list orders by view_count, which every view
    changes)."""
    normalized = normalize_query(query)
    if not query_words(normalized, limit=MAX_SEARCH_WORDS):
        return None, None
    digest = hashlib.sha256(normalized.encode()).hexdigest()[:32]
    return f"search:{limit}:{digest}", lambda: article_search(
        user=user, query=normalized, limit=limit, log_miss=False
    )


def article_search_cached(*, user: AnyUser, query: str, limit: int = 20) -> list[Article]:
    """``article_search`` for the search page and the API: a query's results are cached
    per visibility class under the KB version (``kb_cached``), so a popular
    query costs one Redis read instead of the ranked search and its headlines. What
    they show (title, summary, audience, snippet, category) and their order (rank,
    then ``helpful_yes``) change only through article or category writes and feedback
    votes, which all bump the version. A miss is still counted for the KB-gap list on
    every search, cached or not. ``article_search`` itself stays uncached (bench/kb.py
    times it)."""
    limit = max(1, min(int(limit), 100))
    key, compute = _search_piece(user=user, query=query, limit=limit)
    if key is None:
        return article_search(user=user, query=query, limit=limit)
    results = kb_cached(user, {key: compute})[key]
    if not results:
        search_log_miss(query=normalize_query(query))
    return results


def article_search(
    *, user: AnyUser, query: str, limit: int = 20, log_miss: bool = True
) -> list[Article]:
    """Published articles the user may read that match ``query``, best first.

    All words must match (the last one as a prefix, for search-as-you-type),
    ranked title > summary/tags > body; when that finds fewer than three articles, titles
    within trigram distance of the query follow, so typos still find the article. Each result carries ``.rank`` and ``.snippet``
    (escaped text with ``<mark>`` around hits). A query that finds nothing is counted in
    ``SearchLog`` for the KB-gap list. An empty query lists the most helpful articles.
    """
    limit = max(1, min(int(limit), 100))
    normalized = normalize_query(query)
    words = query_words(normalized, limit=MAX_SEARCH_WORDS)
    # Results show (and the API serializes) their category: one join, not one query each.
    qs = article_list_visible_to(user=user).select_related("category")
    if not words:
        results = list(qs.order_by("-helpful_yes", "-view_count", "title")[:limit])
        for article in results:
            article.rank = 0.0
            article.snippet = _listing_snippet(article)
        return results

    tsquery = _tsquery(words, joiner="&", prefix_min=2)
    results = _pg_ranked(user, tsquery, "", limit)
    if len(results) < min(limit, TYPO_FALLBACK_BELOW) and len(normalized) >= 4:
        # Few or no full-text hits: probably a typo. Titles within trigram distance of
        # the whole query (word_similarity >= 0.6) follow. Only then, and only for the
        # whole query: trigram candidates are rechecked row by row, and a single short
        # word shares trigrams with most titles (measured 30-120 ms per word at 10,000
        # articles, against 1-8 ms for the whole query).
        found = {a.pk for a in results}
        more = _pg_ranked(user, tsquery, normalized, limit)
        results += [a for a in more if a.pk not in found][: limit - len(results)]

    if not results and log_miss:
        search_log_miss(query=normalized)
    return results


def _pg_ranked(user: AnyUser, tsquery_text: str, typo_text: str, limit: int) -> list[Article]:
    """One statement, ranked in two stages so its cost does not grow with the number of
    matches: all matches are ordered on the small title/summary/tags vector (cheap, never
    TOASTed); only the best ``SEARCH_CANDIDATES`` are ranked on the full vector (title
    A, summary/tags B, body C), and only the returned rows get a headline.

    Matches are full-text hits of ``tsquery_text``, or with ``typo_text`` titles within
    trigram distance of it (the typo fallback; the caller drops what the full-text
    search already found, so there are that many more candidates)."""
    typo = bool(typo_text)
    candidates_limit = max(SEARCH_CANDIDATES, limit * 2) + (TYPO_FALLBACK_BELOW if typo else 0)

    def build(tsquery_text: str, typo_text: str) -> QuerySet[Article]:
        # Snippets come from ts_headline: the (possibly TOASTed) body is not fetched.
        qs = article_list_visible_to(user=user).select_related("category").defer("body")
        tsquery = SearchQuery(tsquery_text, search_type="raw", config="english")
        if typo:
            match = Q(title__trigram_word_similar=typo_text)
            similarity: Any = TrigramWordSimilarity(typo_text, "title") * Value(0.5)
        else:
            match, similarity = Q(search_vector=tsquery), Value(0.0)
        candidates = (
            qs.filter(match)
            .annotate(cheap=SearchRank(F("suggest_vector"), tsquery) + similarity)
            .order_by("-cheap", "-helpful_yes", "pk")
            .values("pk")[:candidates_limit]
        )
        rank = SearchRank(F("search_vector"), tsquery) + similarity
        return (
            qs.filter(pk__in=Subquery(candidates))
            .annotate(
                rank=Coalesce(rank, Value(0.0), output_field=FloatField()),
                # Evaluated for the returned rows only (PostgreSQL postpones costly
                # select-list expressions past ORDER BY … LIMIT). ts_headline's cost grows
                # with the text, so snippets come from the start of the body; ranking uses
                # all of it.
                headline=SearchHeadline(
                    Left("body", SNIPPET_SOURCE_CHARS),
                    tsquery,
                    config="english",
                    start_sel=_HIT_START,
                    stop_sel=_HIT_STOP,
                    max_words=28,
                    min_words=12,
                    max_fragments=2,
                    fragment_delimiter=" … ",
                ),
            )
            .order_by("-rank", "-helpful_yes", "pk")[:limit]
        )

    results = list(build(tsquery_text, typo_text))
    for article in results:
        article.snippet = _plain_snippet(article.headline)
    return results


def search_log_miss(*, query: str) -> None:
    """Count a search that found nothing: one upsert, no read, no lock held."""
    normalized = normalize_query(query)
    if len(normalized) < 3:
        return
    outer_atomic = connection.in_atomic_block
    from django.utils import timezone

    now = timezone.now()
    table = SearchLog._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if not outer_atomic:
            # A lost counter after a crash is harmless: do not make the reader wait for
            # the WAL flush. Only in our own transaction, never in a caller's.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(
            f"INSERT INTO {table} (query, count, first_seen, last_seen) "  # noqa: S608
            "VALUES (%s, 1, %s, %s) ON CONFLICT (query) DO UPDATE "
            f"SET count = {table}.count + 1, last_seen = excluded.last_seen",
            [normalized, now, now],
        )


def article_suggest(*, user: AnyUser, text: str, limit: int = 5) -> list[Article]:
    """The articles most likely to solve what ``text`` describes (subject + description).

    Used on every few keystrokes by the submit form and on the agent ticket page;
    for agents it includes the internal articles they may read. One query: any word
    may match (the last as a prefix while it is being typed), ranked on the small
    title/summary/tags vector so no article body is read.
    """
    limit = max(1, min(int(limit), 20))
    words = query_words((text or "")[:2000], limit=MAX_SUGGEST_WORDS)
    words = [w for w in words if len(w) >= 3]
    if not words:
        return []
    # The API serializes category, tags and updated_at too: load them here, or each
    # suggested article costs four more queries (found by make bench).
    qs = (
        article_list_visible_to(user=user)
        .select_related("category")
        .only(
            "id",
            "title",
            "slug",
            "summary",
            "audience",
            "min_tier",
            "helpful_yes",
            "tags",
            "updated_at",
            "category__slug",
        )
    )
    # A trailing space means the last word is finished: no prefix then.
    typing = bool(text) and not text[-1].isspace()
    tsquery = SearchQuery(
        _tsquery(words, joiner="|", prefix_min=3 if typing else 999),
        search_type="raw",
        config="english",
    )
    return list(
        qs.filter(suggest_vector=tsquery)
        .annotate(rank=SearchRank(F("suggest_vector"), tsquery))
        .order_by("-rank", "-helpful_yes", "pk")[:limit]
    )


def article_related(*, user: AnyUser, article: Article, limit: int = 4) -> list[Article]:
    """Other articles a reader of ``article`` may want: same topic or shared tags first,
    then whatever the title suggests."""
    qs = article_list_visible_to(user=user).exclude(pk=article.pk)
    condition = Q(pk__in=[])
    if article.category_id:
        condition |= Q(category_id=article.category_id)
    for tag in (article.tags or [])[:5]:
        if isinstance(tag, str):
            condition |= Q(tags__contains=[tag])
    related = list(qs.filter(condition).order_by("-helpful_yes", "title")[:limit])
    if len(related) < limit:
        seen = {a.pk for a in related} | {article.pk}
        for extra in article_suggest(user=user, text=article.title + " ", limit=limit + 1):
            if extra.pk not in seen and len(related) < limit:
                related.append(extra)
                seen.add(extra.pk)
    return related


# ---------------------------------------------------------------------------
# Listing pages, impact, history
# ---------------------------------------------------------------------------


def article_topics(*, user: AnyUser) -> list:
    """Categories that hold at least one article this user may read, with counts.

    Cached per visibility class under the KB version (``kb_cached``): the
    count reads every published article, and it only changes when an article or a
    category is written."""
    return kb_cached(user, {"topics": lambda: _article_topics_uncached(user=user)})["topics"]


def _article_topics_uncached(*, user: AnyUser) -> list:
    rows = (
        article_list_visible_to(user=user)
        .filter(category__isnull=False)
        .values("category__slug", "category__name")
        .annotate(n=Count("id"))
        .order_by("category__name")
    )
    return [
        {"slug": r["category__slug"], "name": r["category__name"], "count": r["n"]} for r in rows
    ]


def article_most_helpful(*, user: AnyUser, limit: int = 6) -> list[Article]:
    return list(
        article_list_visible_to(user=user)
        .filter(helpful_yes__gt=0)
        .order_by(F("helpful_no") - F("helpful_yes"), "-view_count", "title")[:limit]
    )


def with_impact(qs: QuerySet[Article]) -> QuerySet[Article]:
    """Annotate ``resolved_count`` (tickets resolved with the article) and
    ``deflected_count`` (form sessions in which the article was opened and no ticket was
    submitted: a Deflection with ``opened_at`` set, ``ticket`` NULL, and no ticket from
    any other row of the same session)."""
    from tickets.models import Deflection, Ticket

    resolved = (
        Ticket.objects.filter(resolved_article=OuterRef("pk"))
        .order_by()
        .values("resolved_article")
        .annotate(n=Count("id"))
        .values("n")
    )
    session_ticketed = Deflection.objects.filter(
        session_key=OuterRef("session_key"), ticket__isnull=False
    )
    deflected = (
        Deflection.objects.filter(article=OuterRef("pk"), opened_at__isnull=False)
        .filter(ticket__isnull=True)
        .exclude(Exists(session_ticketed))
        .order_by()
        .values("article")
        .annotate(n=Count("id"))
        .values("n")
    )
    return qs.annotate(
        resolved_count=Coalesce(Subquery(resolved), 0),
        deflected_count=Coalesce(Subquery(deflected), 0),
    )


@dataclass
class DiffLine:
    kind: str  # "add", "del", "hunk", "same"
    text: str


@dataclass
class VersionDiff:
    version: ArticleVersion
    previous_number: int | None
    lines: list[DiffLine] = field(default_factory=list)


def article_version_diffs(*, article: Article) -> list[VersionDiff]:
    """Each published version with a unified diff against the one before it. Lines are
    plain text: the template escapes them."""
    versions = list(
        ArticleVersion.objects.filter(article=article).select_related("published_by", "author")
    )
    result = []
    ordered = sorted(versions, key=lambda v: v.number)
    previous: ArticleVersion | None = None
    for version in ordered:
        before = _version_text(previous) if previous else []
        after = _version_text(version)
        lines = []
        for line in difflib.unified_diff(before, after, lineterm="", n=2):
            if line.startswith(("---", "+++")):
                continue
            kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
            lines.append(DiffLine(kind, line))
        result.append(VersionDiff(version, previous.number if previous else None, lines))
        previous = version
    return list(reversed(result))


def _version_text(version: ArticleVersion) -> list[str]:
    return [f"# {version.title}", "", version.summary, "", *version.body.splitlines()]


# ---------------------------------------------------------------------------
# KB gaps
# ---------------------------------------------------------------------------


@dataclass
class GapEntry:
    kind: str  # "search" or "escalation"
    label: str
    count: int
    last_seen: object
    tickets: list = field(default_factory=list)
    category_id: int | None = None
    query: str = ""


def kb_gaps(*, user: AnyUser, limit: int = 40) -> list[GapEntry]:
    """What the KB is missing: escalations marked "missing article" (grouped by
    category) and searches that found nothing (by normalised query), each with the
    tickets behind it that the user may read. A fixed number of queries."""
    from tickets.models import Category, TicketEvent, ticket_text_contains
    from tickets.selectors import ticket_list_visible_to

    visible = ticket_list_visible_to(user=user)
    entries: list[GapEntry] = []

    events = list(
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.AVOIDABLE,
            data__missing_article=True,
            ticket__in=visible.values("pk"),
        )
        .select_related("ticket")
        .order_by("-created_at")[:500]
    )
    by_category: dict[int | None, GapEntry] = {}
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        raw_category = data.get("category_id") or event.ticket.category_id
        category_id = raw_category if isinstance(raw_category, int) else None
        entry = by_category.get(category_id)
        if entry is None:
            entry = by_category[category_id] = GapEntry(
                "escalation", "", 0, event.created_at, category_id=category_id
            )
        entry.count += 1
        if event.ticket not in entry.tickets:
            entry.tickets.append(event.ticket)
    names = dict(
        Category.objects.filter(pk__in=[k for k in by_category if k]).values_list("pk", "name")
    )
    for category_id, entry in by_category.items():
        entry.label = names.get(category_id, "Uncategorised")
        entries.append(entry)

    logs = list(SearchLog.objects.order_by("-count", "-last_seen")[:limit])
    if logs:
        condition = Q()
        for log in logs:
            condition |= ticket_text_contains("subject", log.query)
        tickets = list(visible.filter(condition).order_by("-created_at")[:500])
        for log in logs:
            matching = [t for t in tickets if log.query in t.subject.lower()][:10]
            entries.append(
                GapEntry("search", log.query, log.count, log.last_seen, matching, query=log.query)
            )
    entries.sort(key=lambda e: (-e.count, e.label))
    return entries[:limit]
