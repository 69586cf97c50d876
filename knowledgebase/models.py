"""Knowledge base articles: public self-help for customers, internal scripts for agents."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from tiers.models import TierLevel, TimestampedModel


class ArticleManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        # The vectors are for the database's eyes only: never ship them to Python.
        return super().get_queryset().defer("search_vector", "suggest_vector")


class Article(TimestampedModel):
    class Audience(models.TextChoices):
        PUBLIC = "public", _("Public (customers and agents)")
        INTERNAL = "internal", _("Internal (agents from a minimum tier)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        REVIEW = "review", _("In review")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.CharField(max_length=400, blank=True)
    body = models.TextField(max_length=100000, help_text=_("Markdown."))
    category = models.ForeignKey(
        "tickets.Category",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    tags = models.JSONField(default=list, blank=True)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.PUBLIC)
    min_tier = models.PositiveSmallIntegerField(
        choices=TierLevel.choices,
        default=TierLevel.FRONTLINE,
        help_text=_("Internal articles: the lowest tier that may read it."),
    )
    owning_tier = models.PositiveSmallIntegerField(
        choices=TierLevel.choices, default=TierLevel.FRONTLINE
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    helpful_yes = models.PositiveIntegerField(default=0)
    helpful_no = models.PositiveIntegerField(default=0)
    source_ticket = models.ForeignKey(
        "tickets.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The resolved ticket this article was written from."),
    )
    review_note = models.CharField(
        max_length=1000, blank=True, help_text=_("Why a reviewer sent it back to draft.")
    )
    # Kept current by a PostgreSQL trigger (migration 0003) on every insert and every
    # update of title/summary/tags/body, whichever path writes the row (service, admin,
    # bulk import, raw SQL). Weights: title A, summary and tags B, body C.
    search_vector = SearchVectorField(null=True, editable=False)
    # Title, summary and tags only, kept in the heap row (MAIN storage, migration 0005):
    # what suggestions rank on, so a keystroke-rate query never reads bodies or TOAST.
    suggest_vector = SearchVectorField(null=True, editable=False)

    objects = ArticleManager()

    class Meta:
        ordering = ["title"]
        indexes = [
            models.Index(
                fields=["audience", "min_tier"],
                name="article_published_audience",
                condition=Q(status="published"),
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("knowledgebase:article", kwargs={"slug": self.slug})


class ArticleVersion(models.Model):
    """A snapshot of an article as it was published. One per publish, never edited."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=400, blank=True)
    body = models.TextField(max_length=100000)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    change_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="one_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} v{self.number}"


class ArticleFeedback(models.Model):
    """A reader's answer to "Was this helpful?", with an optional comment."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    helpful = models.BooleanField()
    comment = models.TextField(max_length=2000, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["article", "-created_at"], name="feedback_article")]

    def __str__(self) -> str:
        return f"{'yes' if self.helpful else 'no'} on {self.article_id}"


class SearchLog(models.Model):
    """A search that found nothing, by normalised query (lowercase, single spaces).

    One row per distinct query, bumped with an upsert: the KB-gap list reads it.
    """

    query = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-count", "-last_seen"]
        indexes = [models.Index(fields=["-count", "-last_seen"], name="searchlog_top")]

    def __str__(self) -> str:
        return f"{self.query} ×{self.count}"
