"""Everything under /api/v1/. Each app contributes its own ``api_urls`` module."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Unknown /api/v1/ paths answer JSON like every API error, not the HTML 404 page."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    path("", include("tickets.api_urls")),
    path("", include("knowledgebase.api_urls")),
    path("", include("reports.api_urls")),
    # Last: anything the apps did not route.
    re_path(r"^(?P<rest>.*)$", api_not_found),
]
