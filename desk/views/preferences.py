"""The user's own settings page (every signed-in user: customers and agents; agents
also set their availability for auto-assignment here)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tiers.assignment import agent_set_away
from tiers.selectors import agent_profile_of

from ..forms import AvailabilityForm, TimeZoneForm
from ..services import user_time_zone_of, user_time_zone_set


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    profile = agent_profile_of(request.user)
    form = TimeZoneForm(initial={"time_zone": user_time_zone_of(user=request.user)})
    availability = None
    if profile is not None:
        availability = AvailabilityForm(
            initial={"away": "0" if profile.is_available else "1", "until": profile.away_until}
        )
    status = 200
    if request.method == "POST" and request.POST.get("form") == "availability":
        if profile is None:
            return HttpResponse(_("Only agents have an availability."), status=403)
        availability = AvailabilityForm(request.POST)
        if availability.is_valid():
            away, until = availability.cleaned_data["away"], availability.cleaned_data["until"]
            agent_set_away(profile=profile, away=away, until=until)
            if not away:
                messages.success(request, _("Welcome back: you are available again."))
            elif until:
                when = date_format(timezone.localtime(until), "DATETIME_FORMAT")
                messages.success(request, _("You are away until %(when)s.") % {"when": when})
            else:
                messages.success(request, _("You are away until you switch back."))
            return redirect("preferences")
        status = 400
    elif request.method == "POST":
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
    context = {
        "form": form,
        "availability": availability,
        "now": timezone.now(),
        "zone": timezone.get_current_timezone_name(),
    }
    return render(request, "desk/preferences.html", context, status=status)
