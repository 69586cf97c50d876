"""Live updates for agents' pages: the Server-Sent Events stream and "typing…".

The stream is an async view served by the ASGI stream server (``uvicorn
helpdesk.asgi:application``, Procfile ``stream``): each open page is one coroutine
waiting on a queue, not a thread, so a process holds thousands. Under gunicorn (WSGI,
a thread per request) it answers 204, which tells ``EventSource`` not to reconnect,
and the page keeps polling as it always did.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from helpdesk import live as hub_live
from tiers.selectors import agent_profile_of, user_is_manager

from .. import live
from ..models import Ticket
from ..selectors import ticket_get_visible_to
from ..services import agent as svc
from .agent.common import agent_required

#: The page's reconnect delay after the stream dropped (it polls meanwhile).
RETRY_MS = 3000
KEEPALIVE = hub_live.sse()


def _is_staff(user: Any) -> bool:
    return user.is_authenticated and (agent_profile_of(user) is not None or user_is_manager(user))


def _ticket_for(user: Any, reference: str) -> Ticket:
    return ticket_get_visible_to(user=user, reference=reference, related=())


def _cors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Pages on another origin (the stream server on its own port or host) may read
    the stream with their cookies, when that origin is listed."""
    origin = request.headers.get("Origin")
    if origin and origin in settings.LIVE_ALLOWED_ORIGINS:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin"
    return response


@never_cache
@require_GET
async def stream(request: HttpRequest) -> HttpResponse:
    """``text/event-stream`` of what the agent's page should refresh. ``?ticket=REF``:
    the ticket page (its changes, who else is on it, who is typing); without: the
    queue (every ticket change)."""
    if not isinstance(request, ASGIRequest) or not settings.LIVE_REDIS_URL:
        return _cors(request, HttpResponse(status=204))
    user = await request.auser()
    if not await sync_to_async(_is_staff)(user):
        return _cors(request, HttpResponse("Agents only.", status=403, content_type="text/plain"))
    ticket = None
    reference = request.GET.get("ticket", "")
    if reference:
        try:
            ticket = await sync_to_async(_ticket_for)(user, reference[:40])
        except Http404:
            return _cors(request, HttpResponse("No such ticket.", status=404))
    # The stream itself needs no database (presence lives in the cache): give back this
    # request's connection now, or every open page would hold one for its lifetime.
    await sync_to_async(connections.close_all)()
    response = StreamingHttpResponse(_events(user, ticket), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return _cors(request, response)


async def _events(user: Any, ticket: Ticket | None) -> AsyncIterator[bytes]:
    ticket_id = ticket.pk if ticket else None
    yield hub_live.sse({"ticket": ticket_id}, event="hello", retry_ms=RETRY_MS)
    touched = 0.0
    if ticket is not None:
        await sync_to_async(_here)(ticket, user)
        touched = time.monotonic()
    try:
        async for item in hub_live.hub().listen():
            if item is None:
                yield KEEPALIVE
            elif live.wanted(item[0], ticket_id=ticket_id, user_id=user.pk):
                yield item[1]
            # An open ticket page keeps its presence mark alive instead of polling for it.
            if ticket is not None and time.monotonic() - touched >= svc.PRESENCE_REFRESH:
                await sync_to_async(svc.presence_touch)(ticket=ticket, user=user)
                touched = time.monotonic()
    finally:
        if ticket is not None:
            # The page is gone (closed, navigated away): the others see it at once.
            await sync_to_async(_gone)(ticket, user)


def _here(ticket: Ticket, user: Any) -> None:
    svc.presence_touch(ticket=ticket, user=user)
    live.presence_changed(ticket_id=ticket.pk, user_id=user.pk)


def _gone(ticket: Ticket, user: Any) -> None:
    svc.presence_leave(ticket=ticket, user=user)
    live.presence_changed(ticket_id=ticket.pk, user_id=user.pk)


@require_POST
@agent_required
def typing(request: HttpRequest, reference: str) -> HttpResponse:
    """The agent is typing a reply: the others on this ticket see "… is typing" for a
    few seconds (the page sends this at most every few seconds while keys are hit)."""
    ticket = ticket_get_visible_to(user=request.user, reference=reference, related=())
    if not settings.LIVE_REDIS_URL:
        return HttpResponse(status=204)
    name = request.user.get_username()
    live.typing_started(ticket_id=ticket.pk, user_id=request.user.pk, name=name)
    return HttpResponse(status=204)
