"""The knowledge base API: search, one article, suggestions. Anonymous callers get
the published public articles; agents also the internal ones of their tier."""

from __future__ import annotations

import re

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.markdown import render_markdown
from integrations.permissions import TokenHasScope
from integrations.schema import error_responses
from integrations.scopes import TokenScope

from .models import Article
from .selectors import article_list_visible_to, article_search_cached, article_suggest

TAG = ["knowledge base"]
SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,200}")


class ArticleOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    summary = serializers.CharField()
    category = serializers.CharField(source="category.slug", allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    audience = serializers.ChoiceField(choices=Article.Audience.choices)
    updated_at = serializers.DateTimeField()
    url = serializers.CharField(source="get_absolute_url")
    snippet = serializers.SerializerMethodField()
    rank = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(help_text="Matching passage, when searching."))
    def get_snippet(self, article: Article) -> str:
        return str(getattr(article, "snippet", "") or "")

    @extend_schema_field(serializers.FloatField(allow_null=True, help_text="Search relevance."))
    def get_rank(self, article: Article) -> float | None:
        rank = getattr(article, "rank", None)
        return float(rank) if rank is not None else None


class ArticleDetailOutputSerializer(ArticleOutputSerializer):
    body = serializers.CharField(help_text="Markdown source.")
    body_html = serializers.SerializerMethodField()
    published_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.CharField(help_text="Rendered and sanitized HTML."))
    def get_body_html(self, article: Article) -> str:
        return str(render_markdown(article.body))


ARTICLE_EXAMPLE = {
    "slug": "reset-your-password",
    "title": "Reset your password",
    "summary": "Use the self-service portal to choose a new password.",
    "category": "password-reset",
    "tags": ["password", "account"],
    "audience": "public",
    "updated_at": "2026-11-20T10:00:00Z",
    "url": "/kb/reset-your-password/",
    "snippet": "…open the <b>password</b> portal…",
    "rank": 0.61,
}


class ArticleListApi(APIView):
    permission_classes = [AllowAny, TokenHasScope]
    token_scopes = {"GET": TokenScope.READ}

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(max_length=200, required=False, allow_blank=True)
        limit = serializers.IntegerField(min_value=1, max_value=50, default=20)

    @extend_schema(
        operation_id="kb_articles_list",
        tags=TAG,
        summary="Search the knowledge base",
        description="Without `q`, the articles you may read by title. Anonymous: public only.",
        parameters=[FilterSerializer],
        responses={200: ArticleOutputSerializer(many=True), **error_responses(400, 401, 429)},
        examples=[OpenApiExample("Results", response_only=True, value=[ARTICLE_EXAMPLE])],
        auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}],
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        articles = article_search_cached(
            user=request.user,
            query=filters.validated_data.get("q", ""),
            limit=filters.validated_data["limit"],
        )
        return Response(ArticleOutputSerializer(list(articles), many=True).data)


class ArticleDetailApi(APIView):
    permission_classes = [AllowAny, TokenHasScope]
    token_scopes = {"GET": TokenScope.READ}

    @extend_schema(
        operation_id="kb_articles_retrieve",
        tags=TAG,
        summary="One article",
        description="404 when it does not exist, is not published, or is not for you.",
        responses={200: ArticleDetailOutputSerializer, **error_responses(401, 404, 429)},
        examples=[
            OpenApiExample(
                "Article",
                response_only=True,
                value={
                    **ARTICLE_EXAMPLE,
                    "body": "1. Open the portal…",
                    "body_html": "<ol><li>Open the portal…</li></ol>",
                    "published_at": "2026-11-01T10:00:00Z",
                },
            )
        ],
        auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}],
    )
    def get(self, request: Request, slug: str) -> Response:
        if not SLUG_RE.fullmatch(slug or ""):
            raise Http404
        article = (
            article_list_visible_to(user=request.user)
            .select_related("category")
            .filter(slug=slug)
            .first()
        )
        if article is None:
            raise Http404
        return Response(ArticleDetailOutputSerializer(article).data)


class ArticleSuggestApi(APIView):
    permission_classes = [AllowAny, TokenHasScope]
    token_scopes = {"GET": TokenScope.READ}

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(
            max_length=2000, help_text="What the problem is about (subject and description)."
        )
        limit = serializers.IntegerField(min_value=1, max_value=10, default=5)

    @extend_schema(
        operation_id="kb_suggest",
        tags=TAG,
        summary="Articles that may solve a problem",
        description="What the ticket form shows while a customer types.",
        parameters=[FilterSerializer],
        responses={200: ArticleOutputSerializer(many=True), **error_responses(400, 401, 429)},
        examples=[OpenApiExample("Suggestions", response_only=True, value=[ARTICLE_EXAMPLE])],
        auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}],
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        articles = article_suggest(
            user=request.user,
            text=filters.validated_data["q"],
            limit=filters.validated_data["limit"],
        )
        return Response(ArticleOutputSerializer(list(articles), many=True).data)
