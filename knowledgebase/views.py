from __future__ import annotations

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Article
from .selectors import article_list_visible_to, article_search


def index(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    articles = article_search(user=request.user, query=query, limit=50)
    return render(request, "knowledgebase/index.html", {"articles": articles, "query": query})


def article(request: HttpRequest, slug: str) -> HttpResponse:
    obj = get_object_or_404(article_list_visible_to(user=request.user), slug=slug)
    Article.objects.filter(pk=obj.pk).update(view_count=F("view_count") + 1)
    return render(request, "knowledgebase/article.html", {"article": obj})
