from django.contrib import admin

from .models import Article, ArticleFeedback, ArticleVersion, SearchLog


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "audience", "min_tier", "status", "view_count", "updated_at"]
    list_filter = ["audience", "status", "min_tier"]
    search_fields = ["title", "summary"]
    prepopulated_fields = {"slug": ["title"]}
    raw_id_fields = ["author", "reviewer", "source_ticket"]
    readonly_fields = ["view_count", "helpful_yes", "helpful_no", "published_at"]


@admin.register(ArticleVersion)
class ArticleVersionAdmin(admin.ModelAdmin):
    # Versions are history: readable here, written only by the publish services.
    list_display = ["article", "number", "published_by", "created_at"]
    raw_id_fields = ["article", "published_by", "author"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(admin.ModelAdmin):
    list_display = ["article", "helpful", "comment", "created_at"]
    list_filter = ["helpful"]
    raw_id_fields = ["article", "user"]


@admin.register(SearchLog)
class SearchLogAdmin(admin.ModelAdmin):
    list_display = ["query", "count", "last_seen"]
    search_fields = ["query"]
