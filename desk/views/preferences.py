"""The user's own settings page (every signed-in user: customers and agents)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ..forms import TimeZoneForm
from ..services import user_time_zone_of, user_time_zone_set


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            zone = form.cleaned_data["time_zone"]
            user_time_zone_set(user=request.user, time_zone=zone, request=request)
            messages.success(
                request,
                _("Times are now shown in %(tz)s.") % {"tz": zone or _("the help desk's zone")},
            )
            return redirect("preferences")
        status = 400
    else:
        form = TimeZoneForm(initial={"time_zone": user_time_zone_of(user=request.user)})
        status = 200
    context = {"form": form, "now": timezone.now(), "zone": timezone.get_current_timezone_name()}
    return render(request, "desk/preferences.html", context, status=status)
