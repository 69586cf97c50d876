"""Shows times in the signed-in user's own time zone.

The zone is read from the session (written at login and when the user changes it,
``desk.services``), so a request costs no query; without one, Django's
``TIME_ZONE`` applies. Business calendars keep their own zones: the escalation
engine computes in the calendar's zone whatever zone is active."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

SESSION_KEY = "tierdesk_time_zone"


class UserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        name = None
        # Without a session cookie there is no zone to read, and touching the session
        # would add "Vary: Cookie" to pages that do not otherwise vary.
        if session is not None and settings.SESSION_COOKIE_NAME in request.COOKIES:
            name = session.get(SESSION_KEY)
        if name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            # A worker thread serves other users next: never leave a zone behind.
            timezone.deactivate()
