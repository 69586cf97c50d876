"""Every KB write: drafts, the review workflow, versions, feedback, views.

Workflow: draft → review → published → archived (→ draft again). Any agent writes
drafts and submits them; Tier 2/3 agents and managers review. Nobody publishes their
own text without a second pair of eyes, except a manager. Every publish (first
publish or later edit of a published article) keeps an ``ArticleVersion``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from helpdesk.exceptions import ConflictError, DomainError, ForbiddenError
from tiers.selectors import agent_profile_of, user_is_manager, user_max_tier

from .markdown_files import ArticleFile
from .models import Article, ArticleFeedback, ArticleVersion
from .selectors import user_is_kb_author, user_is_kb_reviewer

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

#: Paths under /kb/ that an article slug must not shadow.
RESERVED_SLUGS = {"manage", "gaps", "search", "new", "api"}
EDITABLE_FIELDS = ("title", "summary", "body", "category", "tags", "audience", "min_tier")


def _unique_slug(base: str, *, exclude_pk: int | None = None) -> str:
    base = (slugify(base) or "article")[:180]
    slug, n = base, 2
    while slug in RESERVED_SLUGS or (
        Article.objects.filter(slug=slug).exclude(pk=exclude_pk).exists()
    ):
        slug, n = f"{base}-{n}", n + 1
    return slug


def _clean_fields(*, actor: AbstractBaseUser, fields: dict[str, Any]) -> dict[str, Any]:
    title = (fields.get("title") or "").strip()
    body = fields.get("body") or ""
    if not title:
        raise DomainError(_("An article needs a title."), field="title")
    if len(title) > 200:
        raise DomainError(_("The title is longer than 200 characters."), field="title")
    if not body.strip():
        raise DomainError(_("An article needs a body."), field="body")
    if len(body) > 100000:
        raise DomainError(_("The body is longer than 100,000 characters."), field="body")
    summary = (fields.get("summary") or "").strip()
    if len(summary) > 400:
        raise DomainError(_("The summary is longer than 400 characters."), field="summary")
    audience = fields.get("audience") or Article.Audience.PUBLIC
    if audience not in Article.Audience.values:
        raise DomainError(_("Unknown audience."), field="audience")
    try:
        min_tier = int(fields.get("min_tier") or 1)
    except (TypeError, ValueError) as exc:
        raise DomainError(_("The minimum tier must be 1 to 3."), field="min_tier") from exc
    if not 1 <= min_tier <= 3:
        raise DomainError(_("The minimum tier must be 1 to 3."), field="min_tier")
    if (
        audience == Article.Audience.INTERNAL
        and not user_is_manager(actor)
        and min_tier > user_max_tier(actor)
    ):
        # Otherwise the author could write an article they can no longer read.
        raise DomainError(
            _("You can only restrict an article to your own tier or below."), field="min_tier"
        )
    raw_tags = fields.get("tags") or []
    if isinstance(raw_tags, str):
        raw_tags = raw_tags.split(",")
    tags = []
    for tag in raw_tags:
        tag = str(tag).strip().lower()[:40]
        if tag and tag not in tags:
            tags.append(tag)
    return {
        "title": title,
        "summary": summary,
        "body": body.replace("\r\n", "\n"),
        "category": fields.get("category"),
        "tags": tags[:20],
        "audience": audience,
        "min_tier": min_tier,
    }


def _require_author(actor: AbstractBaseUser) -> None:
    if not user_is_kb_author(actor):
        raise ForbiddenError(_("Only help-desk staff write articles."))


def _require_reviewer(actor: AbstractBaseUser) -> None:
    if not user_is_kb_reviewer(actor):
        raise ForbiddenError(_("Only Tier 2 and Tier 3 agents and managers review articles."))


@transaction.atomic
def article_create_draft(
    *,
    author: AbstractBaseUser,
    title: str,
    body: str,
    category=None,
    source_ticket=None,
    summary: str = "",
    tags: list[str] | str | None = None,
    audience: str = Article.Audience.PUBLIC,
    min_tier: int = 1,
    slug: str = "",
) -> Article:
    """A new draft by ``author`` (any agent or manager). ``source_ticket`` is the
    resolved ticket it was written from ("create article from this resolution")."""
    _require_author(author)
    fields = _clean_fields(
        actor=author,
        fields={
            "title": title,
            "body": body,
            "summary": summary,
            "category": category,
            "tags": tags,
            "audience": audience,
            "min_tier": min_tier,
        },
    )
    profile = agent_profile_of(author)
    article = Article(
        **fields,
        slug=_unique_slug(slug or fields["title"]),
        status=Article.Status.DRAFT,
        author=author,
        owning_tier=min(profile.tier, 3) if profile else 3,
        source_ticket=source_ticket,
    )
    try:
        with transaction.atomic():
            article.save()
    except IntegrityError as exc:  # two drafts with one title at the same instant
        raise ConflictError(_("That slug was just taken; save again."), field="title") from exc
    return article


def article_can_edit(*, actor: AbstractBaseUser, article: Article) -> bool:
    """Drafts and articles in review: their author or any reviewer. Published ones:
    only someone who could publish them (a reviewer other than the author, or a
    manager), since saving publishes a new version. Archived: nobody (reopen first)."""
    if article.status in (Article.Status.DRAFT, Article.Status.REVIEW):
        return article.author_id == actor.pk or user_is_kb_reviewer(actor)
    if article.status == Article.Status.PUBLISHED:
        return article_can_publish(actor=actor, article=article)
    return False


def article_can_publish(*, actor: AbstractBaseUser, article: Article) -> bool:
    if user_is_manager(actor):
        return True
    return user_is_kb_reviewer(actor) and article.author_id != actor.pk


@transaction.atomic
def article_update(
    *, actor: AbstractBaseUser, article: Article, change_note: str = "", **fields: Any
) -> Article:
    """Edit an article. Editing a published article publishes the edit as a new version."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    if not article_can_edit(actor=actor, article=article):
        raise ForbiddenError(_("You cannot edit this article."))
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    merged = {name: getattr(article, name) for name in EDITABLE_FIELDS}
    merged.update(fields)
    cleaned = _clean_fields(actor=actor, fields=merged)
    for name, value in cleaned.items():
        setattr(article, name, value)
    article.save()
    if article.status == Article.Status.PUBLISHED:
        article.reviewer = actor
        article.save(update_fields=["reviewer", "updated_at"])
        _version_create(article=article, actor=actor, note=change_note or _("Edited"))
    return article


@transaction.atomic
def article_submit_for_review(*, actor: AbstractBaseUser, article: Article) -> Article:
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != Article.Status.DRAFT:
        raise ConflictError(_("Only a draft can be submitted for review."))
    if not (article.author_id == actor.pk or user_is_kb_reviewer(actor)):
        raise ForbiddenError(_("Only the author or a reviewer can submit this draft."))
    article.status = Article.Status.REVIEW
    article.review_note = ""
    article.save(update_fields=["status", "review_note", "updated_at"])
    return article


@transaction.atomic
def article_send_back(*, actor: AbstractBaseUser, article: Article, reason: str) -> Article:
    """A reviewer returns an article in review to its author, saying why."""
    _require_reviewer(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say what needs to change."), field="reason")
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != Article.Status.REVIEW:
        raise ConflictError(_("Only an article in review can be sent back."))
    article.status = Article.Status.DRAFT
    article.review_note = reason[:1000]
    article.reviewer = actor
    article.save(update_fields=["status", "review_note", "reviewer", "updated_at"])
    return article


@transaction.atomic
def article_publish(*, actor: AbstractBaseUser, article: Article, change_note: str = "") -> Article:
    """Approve an article in review: it goes live and its text is kept as a version."""
    _require_reviewer(actor)
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != Article.Status.REVIEW:
        raise ConflictError(_("Only an article in review can be published."))
    if not article_can_publish(actor=actor, article=article):
        raise ForbiddenError(_("You cannot approve your own article; ask another reviewer."))
    article.status = Article.Status.PUBLISHED
    article.reviewer = actor
    article.review_note = ""
    article.published_at = timezone.now()
    article.save(update_fields=["status", "reviewer", "review_note", "published_at", "updated_at"])
    _version_create(article=article, actor=actor, note=change_note or _("Published"))
    return article


@transaction.atomic
def article_archive(*, actor: AbstractBaseUser, article: Article) -> Article:
    _require_reviewer(actor)
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != Article.Status.PUBLISHED:
        raise ConflictError(_("Only a published article can be archived."))
    article.status = Article.Status.ARCHIVED
    article.save(update_fields=["status", "updated_at"])
    return article


@transaction.atomic
def article_reopen(*, actor: AbstractBaseUser, article: Article) -> Article:
    """An archived article back to draft, to be reworked and reviewed again."""
    _require_reviewer(actor)
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != Article.Status.ARCHIVED:
        raise ConflictError(_("Only an archived article can be reopened."))
    article.status = Article.Status.DRAFT
    article.save(update_fields=["status", "updated_at"])
    return article


def _version_create(*, article: Article, actor: AbstractBaseUser, note: str) -> ArticleVersion:
    # The caller holds the article's row lock, so numbers cannot collide.
    last = article.versions.aggregate(n=Max("number"))["n"] or 0
    return ArticleVersion.objects.create(
        article=article,
        number=last + 1,
        title=article.title,
        summary=article.summary,
        body=article.body,
        published_by=actor,
        author=article.author,
        change_note=note[:300],
    )


def article_record_view(*, article: Article) -> None:
    # An UPDATE of view_count only: the search trigger does not fire for it.
    Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)


@transaction.atomic
def article_feedback_create(
    *, article: Article, helpful: bool, comment: str = "", user=None
) -> ArticleFeedback:
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise DomainError(_("The comment is longer than 2,000 characters."), field="comment")
    feedback = ArticleFeedback.objects.create(
        article=article,
        helpful=helpful,
        comment=comment,
        user=user if user is not None and user.is_authenticated else None,
    )
    counter = "helpful_yes" if helpful else "helpful_no"
    # The feedback row's save bumps the KB counter (helpful_yes orders cached results).
    Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
    return feedback


@transaction.atomic
def article_import(
    *, parsed: ArticleFile, author=None, categories: dict | None = None, overwrite: bool = True
) -> tuple[Article, str]:
    """Create or update the article ``parsed.slug`` from a Markdown file.

    Idempotent by slug: importing the same file twice changes nothing the second time.
    Returns the article and what happened: "created", "updated" or "unchanged". A
    published import that changes the text keeps a version, like a reviewer's publish.
    With ``overwrite=False`` an existing article is left as it is (seed_demo: an admin's
    edits survive a re-seed).
    """
    from tickets.models import Category

    if parsed.audience not in Article.Audience.values:
        raise DomainError(
            _("%(slug)s: unknown audience %(a)r") % {"slug": parsed.slug, "a": parsed.audience}
        )
    if parsed.status not in Article.Status.values:
        raise DomainError(
            _("%(slug)s: unknown status %(s)r") % {"slug": parsed.slug, "s": parsed.status}
        )
    if not 1 <= parsed.min_tier <= 3:
        raise DomainError(_("%(slug)s: min_tier must be 1 to 3") % {"slug": parsed.slug})
    if parsed.slug != slugify(parsed.slug) or parsed.slug in RESERVED_SLUGS:
        raise DomainError(_("%(slug)s: not a usable slug") % {"slug": parsed.slug})
    category = None
    if parsed.category:
        if categories is not None:
            category = categories.get(parsed.category)
        else:
            category = Category.objects.filter(slug=parsed.category).first()
    values = {
        "title": parsed.title[:200],
        "summary": parsed.summary[:400],
        "body": parsed.body,
        "audience": parsed.audience,
        "min_tier": parsed.min_tier,
        "owning_tier": parsed.owning_tier or parsed.min_tier,
        "tags": parsed.tags,
    }
    article = Article.objects.select_for_update().filter(slug=parsed.slug).first()
    if article is None:
        article = Article(
            slug=parsed.slug,
            author=author,
            status=parsed.status,
            category=category,
            published_at=timezone.now() if parsed.status == Article.Status.PUBLISHED else None,
            **values,
        )
        article.save()
        if article.status == Article.Status.PUBLISHED:
            _version_create(article=article, actor=author, note=_("Imported"))
        return article, "created"
    if not overwrite:
        return article, "unchanged"
    changed = [name for name, value in values.items() if getattr(article, name) != value]
    if article.category_id != (category.pk if category else None):
        changed.append("category")
    if article.status != parsed.status:
        changed.append("status")
    if not changed:
        return article, "unchanged"
    text_changed = any(name in changed for name in ("title", "summary", "body"))
    for name, value in values.items():
        setattr(article, name, value)
    article.category = category
    if parsed.status == Article.Status.PUBLISHED and article.status != parsed.status:
        article.published_at = timezone.now()
    article.status = parsed.status
    article.save()
    if article.status == Article.Status.PUBLISHED and (text_changed or "status" in changed):
        _version_create(article=article, actor=author, note=_("Imported"))
    return article, "updated"


def article_export(*, article: Article) -> ArticleFile:
    return ArticleFile(
        slug=article.slug,
        title=article.title,
        body=article.body,
        summary=article.summary,
        audience=article.audience,
        min_tier=article.min_tier,
        category=article.category.slug if article.category_id else "",
        tags=[str(t) for t in article.tags or []],
        status=article.status,
        owning_tier=article.owning_tier,
    )
