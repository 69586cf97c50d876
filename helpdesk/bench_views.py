"""The benchmark's ceiling: the cheapest useful Django page, routed only under TIERDESK_BENCH.

It goes through the same middleware, the same gunicorn and the same database as the
real pages, reads 25 rows of a small table and renders them with a template, so its
req/s is the most a Django page can do on this machine. ``make bench`` reports every
real page as a fraction of it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tickets.models import Category


def ceiling(request: HttpRequest) -> HttpResponse:
    rows = Category.objects.order_by("sort_order", "name").values("name", "slug", "entry_tier")[:25]
    return render(request, "bench/ceiling.html", {"rows": rows})
