"""Everything under /api/v1/. Each app contributes its own ``api_urls`` module."""

from django.urls import include, path

urlpatterns = [
    path("", include("tickets.api_urls")),
    path("", include("knowledgebase.api_urls")),
    path("", include("reports.api_urls")),
]
