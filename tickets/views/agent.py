"""The agent workspace: tier queue and ticket page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from helpdesk.exceptions import DomainError
from tiers.selectors import agent_profile_of, user_is_manager

from ..models import Ticket
from ..selectors import ticket_get_visible_to, ticket_list_visible_to, ticket_timeline
from ..services import core


def agent_required(view: Callable) -> Callable:
    """Only help-desk staff (agents, managers) reach /agent/; customers get 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if agent_profile_of(request.user) is None and not user_is_manager(request.user):
            raise PermissionDenied("The agent workspace is for help-desk staff.")
        return view(request, *args, **kwargs)

    return wrapper


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    profile = agent_profile_of(request.user)
    tier = profile.tier if profile else 1
    tickets = (
        ticket_list_visible_to(user=request.user)
        .filter(tier=tier, status__in=Ticket.ACTIVE_STATUSES)
        .order_by("escalate_at", "created_at")[:50]
    )
    return render(request, "tickets/agent/queue.html", {"tickets": tickets, "tier": tier})


@agent_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    return render(
        request,
        "tickets/agent/ticket.html",
        {"ticket": ticket, "timeline": ticket_timeline(ticket=ticket, public_only=False)},
    )


def _act(
    request: HttpRequest, reference: str, action: Callable[[Ticket], object], done: str
) -> HttpResponse:
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    try:
        action(ticket)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("tickets:agent-ticket", reference=reference)


@require_POST
@agent_required
def ticket_claim(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: core.ticket_claim(ticket=t, agent=request.user),
        "You claimed the ticket.",
    )


@require_POST
@agent_required
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    body = request.POST.get("body", "")[:20000]
    if request.POST.get("internal"):
        return _act(
            request,
            reference,
            lambda t: core.ticket_add_note(ticket=t, agent=request.user, body=body),
            "Note added.",
        )
    return _act(
        request,
        reference,
        lambda t: core.ticket_reply(ticket=t, agent=request.user, body=body),
        "Reply sent.",
    )


@require_POST
@agent_required
def ticket_escalate(request: HttpRequest, reference: str) -> HttpResponse:
    p = request.POST
    return _act(
        request,
        reference,
        lambda t: core.ticket_escalate(
            ticket=t,
            actor=request.user,
            symptom=p.get("symptom", "")[:4000],
            steps_tried=p.get("steps_tried", "")[:4000],
            findings=p.get("findings", "")[:4000],
        ),
        "Escalated.",
    )


@require_POST
@agent_required
def ticket_resolve(request: HttpRequest, reference: str) -> HttpResponse:
    resolution = request.POST.get("resolution", "")[:20000]
    return _act(
        request,
        reference,
        lambda t: core.ticket_resolve(ticket=t, actor=request.user, resolution=resolution),
        "Resolved.",
    )
