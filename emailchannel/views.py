"""The HTTP door (raw RFC 5322 in, shared secret) and the managers' quarantine page."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tiers.selectors import user_is_manager

from . import selectors
from .models import InboundMessage
from .services import mail_ingest, quarantine_retry


def _secret_matches(request: HttpRequest) -> bool:
    expected = settings.EMAIL_WEBHOOK_SECRET
    given = request.headers.get("X-Tierdesk-Secret", "")
    auth = request.headers.get("Authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


@csrf_exempt  # a machine posts here, authenticated by the shared secret, no cookies
@require_POST
def inbound(request: HttpRequest) -> HttpResponse:
    """``POST /email/inbound/`` with the raw message as the body (any content type;
    ``message/rfc822`` by convention) and the secret in ``X-Tierdesk-Secret`` or
    ``Authorization: Bearer``. 202 with what became of it; a duplicate is 200."""
    if not settings.EMAIL_WEBHOOK_SECRET:
        raise Http404("The e-mail endpoint is not configured.")
    if not _secret_matches(request):
        return JsonResponse({"detail": _("Wrong or missing secret.")}, status=401)
    limit = settings.EMAIL_INBOUND_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return JsonResponse(
            {"detail": _("The message is larger than %(n)s bytes.") % {"n": limit}}, status=413
        )
    # Read the stream, not request.body: DATA_UPLOAD_MAX_MEMORY_SIZE (for forms) is
    # far below a message with attachments.
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return JsonResponse(
            {"detail": _("The message is larger than %(n)s bytes.") % {"n": limit}}, status=413
        )
    if not raw.strip():
        return JsonResponse({"detail": _("Send the raw message as the request body.")}, status=400)
    result = mail_ingest(raw=raw, source=InboundMessage.Source.HTTP)
    return JsonResponse(result.as_dict(), status=200 if result.duplicate else 202)


def _require_manager(request: HttpRequest) -> None:
    if not user_is_manager(request.user):
        raise PermissionDenied(_("The mail quarantine is for help-desk managers."))


@login_required
def quarantine(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    rows = list(selectors.quarantine_list()[:200])
    recent = list(selectors.inbound_recent(limit=50))
    return render(request, "emailchannel/quarantine.html", {"rows": rows, "recent": recent})


@login_required
def quarantine_raw(request: HttpRequest, pk: int) -> FileResponse:
    _require_manager(request)
    row = get_object_or_404(selectors.quarantine_list(include_released=True), pk=pk)
    # Always a download, never rendered: the message is untrusted content.
    response = FileResponse(
        row.raw.open("rb"),
        as_attachment=True,
        filename=f"quarantined-{row.pk}.eml",
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def quarantine_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    row = get_object_or_404(selectors.quarantine_list(), pk=pk)
    result = quarantine_retry(quarantined=row)
    if result.outcome == InboundMessage.Outcome.QUARANTINED:
        messages.error(request, _("Still refused: %(detail)s") % {"detail": result.detail})
    elif result.ticket_reference:
        messages.success(
            request,
            _("Posted to %(ref)s (%(what)s).")
            % {
                "ref": result.ticket_reference,
                "what": InboundMessage.Outcome(result.outcome).label,
            },
        )
    else:
        messages.info(request, _("Recorded: %(what)s.") % {"what": result.outcome})
    return redirect("emailchannel:quarantine")
