from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tiers.selectors import user_is_manager

from . import exports
from .forms import DashboardForm
from .selectors import dashboard_summary_cached, dashboard_supported
from .services import local_today

UNSUPPORTED = "The dashboard needs PostgreSQL: set DATABASE_URL (see README)."


def _require_manager(request: HttpRequest) -> None:
    if not user_is_manager(request.user):
        raise PermissionDenied("The dashboard is for help-desk managers.")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = DashboardForm(request.GET or {"range": "30"}, today=local_today())
    if not form.is_valid():
        return render(request, "reports/dashboard.html", {"form": form}, status=400)
    if not dashboard_supported():
        return render(request, "reports/dashboard.html", {"form": form, "unsupported": True})
    summary = dashboard_summary_cached(filters=form.filters())
    charts = {
        "series": summary["series"],
        "distribution": summary["resolution_distribution"],
        "categories": summary["categories"],
        "articles": summary["articles"],
    }
    return render(
        request,
        "reports/dashboard.html",
        {
            "form": form,
            "s": summary,
            "charts": charts,
            "query": request.GET.urlencode(),
            "tables": exports.TABLES,
        },
    )


@login_required
def table_export(request: HttpRequest, table: str) -> HttpResponse:
    _require_manager(request)
    if table not in exports.TABLES:
        raise Http404("No such table.")
    form = DashboardForm(request.GET or {"range": "30"}, today=local_today())
    if not form.is_valid():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    if not dashboard_supported():
        return HttpResponse(UNSUPPORTED, status=503, content_type="text/plain; charset=utf-8")
    filters = form.filters()
    response = HttpResponse(
        exports.table_csv(table, dashboard_summary_cached(filters=filters)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="tierdesk-{table}-{filters.start}-{filters.end}.csv"'
    )
    return response
