"""The ticket page's actions: one service each, POST/redirect/GET, refusals re-render the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.exceptions import DomainError, ForbiddenError
from knowledgebase.selectors import article_list_visible_to
from tiers.selectors import user_is_manager

from ... import queue as q
from ...models import Category, Ticket, TicketEvent
from ...selectors import (
    ticket_get_visible_to,
    ticket_list_visible_to,
)
from ...services import agent as svc
from ...services import core
from ...services.edit import ticket_edit as ticket_edit_service
from .common import MAX_TEXT, _int, _text, agent_required
from .ticket import _render_page, _ticket_context

Kind = TicketEvent.Kind


def _act(
    request: HttpRequest,
    reference: str,
    action: Callable[[Ticket], object],
    done: str,
    *,
    then: Callable[[Ticket], str] | None = None,
    ticket: Ticket | None = None,
) -> HttpResponse:
    """Run one service. Success: message and redirect (POST/redirect/GET). Refused:
    the ticket page again with the message and the typed input; forbidden: 403.
    ``ticket``: the caller already read it within the user's visibility."""
    if ticket is None:
        ticket = ticket_get_visible_to(user=request.user, reference=reference)
    try:
        action(ticket)
    except ForbiddenError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        ticket.refresh_from_db()
        context = _ticket_context(request, ticket, error=exc.message, error_field=exc.field)
        return _render_page(request, ticket, context=context, status=exc.status)
    messages.success(request, done)
    if then is not None:
        return redirect(then(ticket))
    return redirect("tickets:agent-ticket", reference=reference)


def _user_or_error(user_id: int | None, field: str) -> Any:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        raise core.TicketError("Choose an agent.", field=field)
    return user


def _article_or_none(request: HttpRequest, slug: str) -> Any:
    slug = (slug or "").strip()[:200]
    if not slug:
        return None
    article = article_list_visible_to(user=request.user).filter(slug=slug).first()
    if article is None:
        raise core.TicketError("Unknown article.", field="article")
    return article


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
def ticket_unclaim(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: core.ticket_assign(ticket=t, actor=request.user, assignee=None),
        "The ticket is back in the queue.",
    )


@require_POST
@agent_required
def ticket_assign(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        assignee = _user_or_error(_int(request.POST.get("assignee")), "assignee")
        core.ticket_assign(ticket=t, actor=request.user, assignee=assignee)

    return _act(request, reference, action, "Reassigned.")


@require_POST
@agent_required
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    if request.POST.get("internal"):
        return _act(
            request,
            reference,
            lambda t: core.ticket_add_note(
                ticket=t, agent=request.user, body=_text(request, "body")
            ),
            "Note added.",
        )
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    typed = (request.POST.get("body") or "").strip()
    if not request.POST.get("confirm") and typed and len(typed) <= MAX_TEXT:
        # Collision notice: new posts since the page was rendered, or another agent on
        # the page. The reply is not sent; the page shows why, keeps the draft, and the
        # next submit (with ``confirm``) sends it.
        last_seen = _int(request.POST.get("last_event_id")) or 0
        new = svc.events_since(ticket=ticket, last_event_id=last_seen, user=request.user)
        # The whole page is built only when it is shown: the usual reply goes straight on.
        viewers = svc.presence_touch(ticket=ticket, user=request.user)
        if new or viewers:
            context = _ticket_context(request, ticket)
            context.update({"collision": True, "new_events": new, "viewers": viewers})
            return _render_page(request, ticket, context=context, viewers=viewers, status=409)
    wait = bool(request.POST.get("pending_customer"))
    return _act(
        request,
        reference,
        lambda t: core.ticket_reply(
            ticket=t, agent=request.user, body=_text(request, "body"), pending_customer=wait
        ),
        "Reply sent." + (" Waiting for the customer." if wait else ""),
        ticket=ticket,
    )


@require_POST
@agent_required
def ticket_status(request: HttpRequest, reference: str) -> HttpResponse:
    status = request.POST.get("status", "")[:30]
    return _act(
        request,
        reference,
        lambda t: core.ticket_change_status(
            ticket=t, actor=request.user, status=status, reason=_text(request, "reason", 2000)
        ),
        "Status changed.",
    )


@require_POST
@agent_required
def ticket_priority(request: HttpRequest, reference: str) -> HttpResponse:
    priority = request.POST.get("priority", "")[:20]
    return _act(
        request,
        reference,
        lambda t: core.ticket_change_priority(ticket=t, actor=request.user, priority=priority),
        "Priority changed.",
    )


@require_POST
@agent_required
def ticket_edit(request: HttpRequest, reference: str) -> HttpResponse:
    """Subject, category (re-routing to its entry tier when nobody escalated yet) and
    requester, from the "Edit details" panel; each change is an event."""
    category_id = _int(request.POST.get("category"))

    def posted(name: str, limit: int) -> str | None:
        return _text(request, name, limit) if name in request.POST else None

    def action(t: Ticket) -> None:
        category = None
        if category_id is not None:
            category = Category.objects.filter(pk=category_id).first()
            if category is None:
                raise core.TicketError("Unknown category.", field="category")
        ticket_edit_service(
            ticket=t,
            actor=request.user,
            subject=posted("subject", 300),
            category=category,
            requester_name=posted("requester_name", 200),
            requester_email=posted("requester_email", 300),
        )

    # A re-routed ticket may have left the agent's tier: back to the queue then.
    return _act(
        request,
        reference,
        action,
        "Details saved.",
        then=lambda t: (
            reverse("tickets:agent-ticket", kwargs={"reference": t.reference})
            if ticket_list_visible_to(user=request.user).filter(pk=t.pk).exists()
            else reverse("tickets:agent-queue")
        ),
    )


@require_POST
@agent_required
def ticket_escalate(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        core.ticket_escalate(
            ticket=t,
            actor=request.user,
            symptom=_text(request, "symptom", 4000),
            steps_tried=_text(request, "steps_tried", 4000),
            findings=_text(request, "findings", 4000),
            # Kept only if the agent may read them: the service checks (as for the API).
            articles=request.POST.getlist("articles")[:20],
            expected_tier=_int(request.POST.get("tier")),
        )

    # After escalating, the ticket may be out of the agent's sight: back to the queue.
    return _act(
        request,
        reference,
        action,
        "Escalated with your hand-off.",
        then=lambda t: reverse("tickets:agent-queue"),
    )


@require_POST
@agent_required
def ticket_bounce(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: svc.ticket_bounce(
            ticket=t, actor=request.user, reason=_text(request, "reason", 4000)
        ),
        "The hand-off went back to the tier below.",
    )


@require_POST
@agent_required
def ticket_avoidable(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        svc.ticket_mark_avoidable(
            ticket=t,
            actor=request.user,
            tier=_int(request.POST.get("tier")),
            article=_article_or_none(request, request.POST.get("article", "")),
            missing_article=bool(request.POST.get("missing_article")),
        )

    return _act(request, reference, action, "Marked avoidable.")


@require_POST
@agent_required
def ticket_deescalate(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: core.ticket_deescalate(
            ticket=t, actor=request.user, reason=_text(request, "reason", 4000)
        ),
        "De-escalated.",
        then=lambda t: reverse("tickets:agent-queue"),
    )


@require_POST
@agent_required
def ticket_resolve(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        svc.ticket_resolve_with_article(
            ticket=t,
            actor=request.user,
            resolution=_text(request, "resolution"),
            article=_article_or_none(request, request.POST.get("article", "")),
            create_draft=bool(request.POST.get("create_draft")),
        )

    return _act(request, reference, action, "Resolved.")


@require_POST
@agent_required
def ticket_merge(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        target_ref = (request.POST.get("target") or "").strip().upper()[:20]
        target = (
            ticket_list_visible_to(user=request.user).filter(reference=target_ref).first()
            if q.REFERENCE_RE.match(target_ref)
            else None
        )
        if target is None:
            raise core.TicketError("No ticket with that reference.", field="target")
        svc.ticket_merge(source=t, target=target, actor=request.user)

    return _act(request, reference, action, "Merged.")


@require_POST
@agent_required
def ticket_grant(request: HttpRequest, reference: str) -> HttpResponse:
    if not user_is_manager(request.user):
        raise PermissionDenied("Only managers grant access to a ticket.")

    def action(t: Ticket) -> None:
        user = _user_or_error(_int(request.POST.get("user")), "user")
        svc.ticket_access_grant(
            ticket=t, manager=request.user, user=user, reason=_text(request, "reason", 300)
        )

    return _act(request, reference, action, "Access granted.")
