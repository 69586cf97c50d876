"""Links between tickets and major incidents, from the agent's ticket page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from ..models import Ticket, TicketLink
from ..selectors import ticket_get_visible_to
from ..services import core, relations
from .agent.actions import _act
from .agent.common import _text, agent_required


@require_POST
@agent_required
def ticket_link(request: HttpRequest, reference: str) -> HttpResponse:
    target_ref = (request.POST.get("target") or "").strip().upper()[:20]
    kind = (request.POST.get("kind") or "")[:12]

    def action(t: Ticket) -> None:
        target = Ticket.objects.filter(reference=target_ref).first() if target_ref else None
        if target is None:
            raise core.TicketError("No ticket has that reference.", field="link_target")
        relations.ticket_link(source=t, target=target, kind=kind, actor=request.user)

    return _act(request, reference, action, f"Linked to {target_ref}.")


@require_POST
@agent_required
def ticket_unlink(request: HttpRequest, reference: str, link_id: int) -> HttpResponse:
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    link = get_object_or_404(
        TicketLink.objects.filter(pk=link_id).filter(source=ticket)
        | TicketLink.objects.filter(pk=link_id).filter(target=ticket)
    )
    return _act(
        request, reference, lambda t: relations.ticket_unlink(link=link, actor=request.user),
        "Link removed.", ticket=ticket,
    )  # fmt: skip


@require_POST
@agent_required
def ticket_incident(request: HttpRequest, reference: str) -> HttpResponse:
    """Declare / end a major incident, post its update to every child, resolve it."""
    what = request.POST.get("action", "")
    user = request.user
    if what in ("declare", "undeclare"):
        return _act(
            request, reference,
            lambda t: relations.incident_declare(ticket=t, actor=user, major=what == "declare"),
            "Declared a major incident." if what == "declare" else "No longer a major incident.",
        )  # fmt: skip
    if what == "update":
        body = {}

        def update(t: Ticket) -> None:
            body["report"] = relations.incident_update(
                parent=t, actor=user, body=_text(request, "incident_body")
            )

        response = _act(request, reference, update, "Update posted.")
        if "report" in body:
            messages.info(request, f"It reached {len(body['report'].reached)} linked tickets.")
        return response
    if what == "resolve":
        result = {}

        def resolve(t: Ticket) -> None:
            result["report"] = relations.incident_resolve(
                parent=t, actor=user, resolution=_text(request, "resolution"),
                with_children=request.POST.get("with_children") == "1",
            )  # fmt: skip

        response = _act(request, reference, resolve, "Incident resolved.")
        if "report" in result:
            report = result["report"]
            if report.resolved:
                messages.info(request, f"Resolved with it: {', '.join(report.resolved)}.")
            for refusal in report.refused:
                messages.error(request, refusal)
        return response
    messages.error(request, "Unknown incident action.")
    return redirect("tickets:agent-ticket", reference=reference)
