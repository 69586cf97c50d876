"""Project middleware: security headers, and a clean page when the database is away."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import cache

logger = logging.getLogger(__name__)

#: Exceptions that mean "the database cannot be reached right now", not a bug.
DATABASE_OUTAGE_ERRORS = (OperationalError, InterfaceError)

#: Seconds a client is told to wait; a restarting PostgreSQL is usually back sooner.
OUTAGE_RETRY_AFTER = 30

# Plain HTML with no template, context processor or session: nothing here may touch
# the database, which is exactly what is missing. The stylesheet is optional decoration.
OUTAGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Back in a moment · Tierdesk</title></head>
<body><main><h1>Tierdesk is back in a moment</h1>
<p>The help desk cannot reach its database right now. Nothing you already submitted is lost.
Please try again in a minute; if you were sending a form, send it again.</p>
<p><a href="/">Back to the help desk</a></p></main></body></html>
"""


def database_outage_response() -> HttpResponse:
    response = HttpResponse(OUTAGE_PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(OUTAGE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_OUTAGE_ERRORS)


class MemoScopeMiddleware:
    """Each request reads the counters of the process-local memos (policies,
    categories, webhooks: ``helpdesk.cache``) once, together, at their first use."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with cache.request_scope():
            return self.get_response(request)


class DatabaseOutageMiddleware:
    """A view that hits a dead database answers 503 with ``Retry-After``, not a 500
    with a stack trace. Errors raised outside views (middleware, templates rendered
    late) reach ``handler500``, which applies the same rule (``helpdesk.views.error_500``).

    Recovery needs nothing here: ``CONN_HEALTH_CHECKS`` makes the next request test
    its persistent connection and open a fresh one when the database is back.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        logger.error(
            "database unavailable during %s %s: %s",
            request.method,
            request.path,
            exception.__class__.__name__,
        )
        return database_outage_response()


class RejectNulMiddleware:
    """Answer 400 to a request whose path, query or form fields hold a NUL character.

    NUL is never valid text: PostgreSQL refuses it in any string ("A string literal
    cannot contain NUL"), so one in a URL segment (``/tickets/track/a%00b/``) or a
    form field would otherwise turn into a 500 in whichever view meets it first.
    Refusing it once, here, covers every page. Uploaded files are not inspected
    (binary content is fine; their names are cleaned by the attachment service),
    and ``/api/`` is left to DRF, whose fields refuse NUL with a 400 of their own.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The API validates its own input (DRF fields refuse NUL; unknown references 404
        # as JSON), so only the HTML pages are guarded here.
        if not request.path.startswith("/api/") and self._has_nul(request):
            message = (
                "The request contained a NUL character, which is never valid text. "
                "Remove it and try again."
            )
            return render(request, "400.html", {"message": message}, status=400)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return True
        if any("\x00" in v for values in request.GET.lists() for v in values[1]):
            return True
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            try:
                form = request.POST  # too big / malformed bodies raise Django's own 400s
            except OSError:  # the client went away mid-upload, as CsrfViewMiddleware assumes
                return False
            return any(
                "\x00" in name or any("\x00" in v for v in values) for name, values in form.lists()
            )
        return False


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy and Permissions-Policy headers.

    Django 5.2 has no built-in CSP; the policy forbids inline scripts, so every
    script the pages use is a static file.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The API docs page (Swagger UI) ships its own inline bootstrap; it is the
        # only page exempt, and it holds no user content.
        if not request.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response
