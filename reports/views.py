from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tiers.selectors import user_is_manager

from . import selectors


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if not user_is_manager(request.user):
        raise PermissionDenied("The dashboard is for help-desk managers.")
    return render(request, "reports/dashboard.html", {"summary": selectors.headline_summary()})
