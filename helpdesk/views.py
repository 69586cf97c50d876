"""Project-level pages: health check, error pages, role-aware login redirect."""

from __future__ import annotations

import sys
import time

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from helpdesk.auth import ThrottledAuthenticationForm
from helpdesk.middleware import database_outage_response, is_database_outage
from tiers.health import sweep_stale_alert, sweep_status
from tiers.selectors import agent_profile_of, user_is_manager


def _database_status() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # A dead connection must not be reused by the next request on this worker.
        connection.close_if_unusable_or_obsolete()
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def _broker_status() -> dict:
    url = settings.CELERY_BROKER_URL
    started = time.monotonic()
    try:
        if url.startswith("filesystem://"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
            import os

            if not os.access(folder, os.W_OK):
                return {"ok": False, "kind": "filesystem", "error": "folder not writable"}
            return {"ok": True, "kind": "filesystem"}
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
            try:
                client.ping()
            finally:
                client.close()
            return {
                "ok": True,
                "kind": "redis",
                "ms": round((time.monotonic() - started) * 1000, 1),
            }
        return {"ok": True, "kind": url.split(":", 1)[0], "checked": False}
    except Exception as exc:
        return {"ok": False, "kind": url.split(":", 1)[0], "error": exc.__class__.__name__}


def _sweep_status() -> dict:
    try:
        status = sweep_status()
        if status["ok"] is False and not status.get("alerted"):
            sweep_stale_alert()
        return status
    except Exception as exc:
        connection.close_if_unusable_or_obsolete()
        return {"ok": None, "error": exc.__class__.__name__}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with database, broker and timer status; 503 when the database is down or the
    escalation sweep has not completed for ``SWEEP_STALE_SECONDS`` (every scheduler or
    every worker is down: the managers are alerted, once).

    A broker outage is reported but keeps 200: tickets are still accepted and the
    sweep catches up when it returns (the database holds the deadlines).

    ``?scope=node`` checks only what this web node needs to serve pages (the
    database): for load-balancer and Kubernetes probes, which must not take every web
    node out of service because the timers stopped elsewhere.
    """
    db = _database_status()
    if request.GET.get("scope") == "node":
        return JsonResponse(
            {"status": "ok" if db["ok"] else "down", "database": db},
            status=200 if db["ok"] else 503,
        )
    broker = _broker_status()
    sweep = _sweep_status() if db["ok"] else {"ok": None}
    if not db["ok"]:
        status = "down"
    elif sweep["ok"] is False:
        status = "timers stopped"
    else:
        status = "ok" if broker["ok"] else "degraded"
    healthy = db["ok"] and sweep["ok"] is not False
    return JsonResponse(
        {"status": status, "database": db, "broker": broker, "sweep": sweep},
        status=200 if healthy else 503,
    )


class LoginView(auth_views.LoginView):
    """Username or e-mail. After login each role lands where it works.

    Repeated failures lock the account name and the client address for a while
    (``helpdesk.auth.ThrottledAuthenticationForm``); a locked attempt is answered 429
    with ``Retry-After`` and a message saying when to try again. Django's ``login()``
    gives the session a new key, so a session id planted before login is worthless.
    """

    redirect_authenticated_user = True
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response

    def get_default_redirect_url(self) -> str:
        user = self.request.user
        if user_is_manager(user):
            return "/dashboard/"
        if agent_profile_of(user) is not None:
            return "/agent/"
        return "/"


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else ""
    return render(request, "403.html", {"message": message}, status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    # Called while the exception is being handled: a database outage raised outside a
    # view (a middleware loading the session, a lazy queryset in a template) is a 503.
    if is_database_outage(sys.exc_info()[1]):
        return database_outage_response()
    # No context processors that touch the database: the database may be why we are here.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render({}), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "403.html",
        {
            "message": "Your form expired or was sent from another site. Reload the page and try again."
        },
        status=403,
    )
