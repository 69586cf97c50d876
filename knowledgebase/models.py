"""Knowledge base articles: public self-help for customers, internal scripts for agents."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from tiers.models import TierLevel, TimestampedModel


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
