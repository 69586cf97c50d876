"""KB reads. Customers only ever see published public articles."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tiers.selectors import user_is_manager, user_max_tier

from .models import Article


def article_list_visible_to(*, user) -> QuerySet[Article]:
    qs = Article.objects.filter(status=Article.Status.PUBLISHED)
    if user_is_manager(user):
        return qs
    max_tier = user_max_tier(user)
    if max_tier:
        return qs.filter(Q(audience=Article.Audience.PUBLIC) | Q(min_tier__lte=max_tier))
    return qs.filter(audience=Article.Audience.PUBLIC)


def article_search(*, user, query: str, limit: int = 20) -> QuerySet[Article]:
    qs = article_list_visible_to(user=user)
    query = (query or "").strip()[:200]
    if query:
        for word in query.split()[:8]:
            qs = qs.filter(
                Q(title__icontains=word) | Q(summary__icontains=word) | Q(body__icontains=word)
            )
    return qs.order_by("title")[:limit]


def article_suggest(*, user, text: str, limit: int = 5) -> list[Article]:
    """The articles most likely to solve what ``text`` describes (subject + description).

    Used on every few keystrokes by the submit form and on the agent ticket page;
    for agents it includes the internal articles they may read.
    """
    words = [w for w in (text or "").split() if len(w) > 3][:6]
    if not words:
        return []
    qs = article_list_visible_to(user=user)
    condition = Q()
    for word in words:
        condition |= Q(title__icontains=word) | Q(summary__icontains=word)
    return list(qs.filter(condition).order_by("-helpful_yes", "title")[:limit])
