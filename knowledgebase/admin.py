from django.contrib import admin

from .models import Article


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "audience", "min_tier", "status", "view_count", "updated_at"]
    list_filter = ["audience", "status", "min_tier"]
    search_fields = ["title", "summary"]
    prepopulated_fields = {"slug": ["title"]}
    raw_id_fields = ["author", "reviewer"]
