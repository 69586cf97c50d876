from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe

from tiers.selectors import user_is_manager

from . import exports
from .forms import DashboardForm
from .selectors import (
    STALE_TTLS,
    cache_call,
    dashboard_summary_cached,
    directory_memo,
)
from .services import local_today
from .templatetags import reports_tags

FIGURES_TEMPLATE = "reports/_figures.html"
FILTERS_TEMPLATE = "reports/_filters.html"


def _require_manager(request: HttpRequest) -> None:
    if not user_is_manager(request.user):
        raise PermissionDenied("The dashboard is for help-desk managers.")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = DashboardForm(request.GET or {"range": "30"}, today=local_today())
    if not form.is_valid():
        return render(request, "reports/dashboard.html", {"form": form}, status=400)
    filters = form.filters()
    summary = dashboard_summary_cached(filters=filters)
    return render(
        request,
        "reports/dashboard.html",
        {
            "form": form,
            "filters_html": filters_html(form),
            "generated_at": summary["generated_at"],
            "figures_html": figures_html(summary, form.canonical_query()),
        },
    )


def filters_html(form: DashboardForm) -> str:
    """The filter form of a valid request as HTML, kept per chosen values.

    Six controls, the 50-category list among them, were a quarter of a warm
    dashboard's CPU. The form is a GET form (no CSRF token) and shows only the values
    chosen, the category names and the labels: it is kept per process under a digest
    of the bound values, the language and the template, for the directory version
    (every category write bumps it after commit). Cache down: rendered."""
    bound = [[name, str(form[name].value() or "")] for name in form.fields]
    ident = json.dumps([bound, translation.get_language(), _template_version(FILTERS_TEMPLATE)])
    html = directory_memo.get(
        ("filters", hashlib.sha256(ident.encode()).hexdigest()),
        lambda: render_to_string(FILTERS_TEMPLATE, {"form": form}),
    )
    return mark_safe(html)  # our autoescaping template rendered it


@functools.cache
def _template_version(name: str) -> str:
    """A digest of a cached fragment's template and the report tags, computed once per
    process, so that a deploy that changes them (and restarts the workers) never serves
    fragments rendered by the previous version."""
    source = get_template(name).template.source
    tags = Path(reports_tags.__file__).read_bytes()
    return hashlib.sha256(source.encode() + tags).hexdigest()[:16]


def figures_html(summary: dict, query: str) -> str:
    """The dashboard's figures as HTML, cached per summary.

    Rendering ~2,500 values (tables, the chart data) costs ~80 ms of CPU, more than the
    rest of a warm request: the fragment is a pure function of the summary (its filters
    and the moment it was computed), the canonical query string of the links and the
    template, so it is cached under exactly those and expires with the summary. It is
    rendered without the request: no CSRF token and nothing about the viewer is in it,
    so every manager may be served the same bytes. Cache down: render every time.
    """
    ttl = settings.REPORTS_CACHE_SECONDS
    key = None
    if ttl > 0:
        ident = json.dumps(
            [
                summary["filters"],
                summary["generated_at"],
                query,
                _template_version(FIGURES_TEMPLATE),
            ],
            sort_keys=True,
        )
        key = "reports:figures:" + hashlib.sha256(ident.encode()).hexdigest()
        html = cache_call("get", key)
        if isinstance(html, str):
            return mark_safe(html)  # our autoescaping template rendered it
    charts = {
        "series": summary["series"],
        "distribution": summary["resolution_distribution"],
        "categories": summary["categories"],
        "articles": summary["articles"],
    }
    html = render_to_string(FIGURES_TEMPLATE, {"s": summary, "charts": charts, "query": query})
    if key is not None:
        # A summary lives at most ttl * (1 + stale TTLs) in the cache: so does its HTML.
        cache_call("set", key, html, ttl * (1 + STALE_TTLS))
    return mark_safe(html)  # our autoescaping template rendered it


@login_required
def table_export(request: HttpRequest, table: str) -> HttpResponse:
    _require_manager(request)
    if table not in exports.TABLES:
        raise Http404("No such table.")
    form = DashboardForm(request.GET or {"range": "30"}, today=local_today())
    if not form.is_valid():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    filters = form.filters()
    response = HttpResponse(
        exports.table_csv(table, dashboard_summary_cached(filters=filters)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="tierdesk-{table}-{filters.start}-{filters.end}.csv"'
    )
    return response
