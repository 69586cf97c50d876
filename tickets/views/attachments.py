"""Attachment downloads: access checked through the ticket selectors, always served
as a download with nosniff, never inline."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from ..models import Attachment
from ..selectors import ticket_get_by_token, ticket_list_visible_to
from ..selectors import user_can_act_on as _staff_can_act
from .portal import limit_track_views


def _serve(attachment: Attachment) -> FileResponse:
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """Logged-in staff and requesters: the same scope as the ticket itself."""
    attachment = get_object_or_404(
        Attachment.objects.select_related("ticket"),
        pk=pk,
        ticket__in=ticket_list_visible_to(user=request.user).values("pk"),
    )
    if not attachment.is_public and not _staff_can_act(user=request.user, ticket=attachment.ticket):
        raise Http404
    return _serve(attachment)


def track_attachment_download(
    request: HttpRequest, token: str, pk: int
) -> FileResponse | HttpResponse:
    """Through the private tracking link: only that ticket's public attachments (reads
    share the tracking page's per-IP limit)."""
    limited = limit_track_views(request)
    if limited:
        return limited
    ticket = ticket_get_by_token(token=token)
    attachment = get_object_or_404(Attachment, pk=pk, ticket=ticket, is_public=True)
    return _serve(attachment)
