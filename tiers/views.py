"""The vendor page (no account: a signed link) and the agents' hand-off actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.exceptions import DomainError
from helpdesk.ratelimit import hit
from tickets.models import Ticket, TicketEvent
from tickets.selectors import ticket_get_visible_to

from . import services
from .forms import HandoffForm, VendorDoneForm, VendorUpdateForm
from .models import VendorHandoff
from .tokens import VendorLinkError, handoff_from_token

Kind = TicketEvent.Kind


def _vendor_thread(handoff: VendorHandoff):
    """What the vendor may read: the public conversation and its own posts, never
    internal notes or other vendors' updates."""
    return (
        handoff.ticket.events.filter(
            Q(is_public=True)
            | Q(kind__in=[Kind.VENDOR_UPDATE, Kind.VENDOR_DONE], data__handoff_id=handoff.pk)
        )
        .select_related("actor")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def _denied(request: HttpRequest, error: VendorLinkError) -> HttpResponse:
    return render(
        request,
        "tiers/vendor_denied.html",
        {"reason": error.reason, "message": error.message},
        status=403,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def vendor_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        handoff = handoff_from_token(token)
    except VendorLinkError as exc:
        return _denied(request, exc)
    ticket = handoff.ticket
    update_form, done_form = VendorUpdateForm(), VendorDoneForm()
    is_open = handoff.done_at is None and ticket.status not in Ticket.DONE_STATUSES
    if request.method == "POST":
        limit = hit(f"vendor-post:{handoff.pk}", limit=60, window=3600)
        if not limit.allowed:
            return render(request, "429.html", {"retry_after": limit.retry_after}, status=429)
        action = request.POST.get("action")
        try:
            if action == "done":
                done_form = VendorDoneForm(request.POST)
                if done_form.is_valid():
                    services.vendor_mark_done(handoff=handoff, note=done_form.cleaned_data["note"])
                    messages.success(request, "Thank you. Our engineers take it from here.")
                    return redirect(request.path)
            elif action == "update":
                update_form = VendorUpdateForm(request.POST, request.FILES)
                if update_form.is_valid():
                    data = update_form.cleaned_data
                    services.vendor_post_update(
                        handoff=handoff,
                        body=data["body"],
                        vendor_reference=data["vendor_reference"],
                        uploads=data["attachments"],
                    )
                    messages.success(request, "Your update was posted.")
                    return redirect(request.path)
            else:
                messages.error(request, "Choose what to do: post an update or mark your part done.")
        except DomainError as exc:
            if not is_open:  # the forms are not shown any more: say it at the top
                messages.error(request, exc.message)
            else:
                target = done_form if action == "done" else update_form
                target.add_error(exc.field if exc.field in target.fields else None, exc.message)
    return render(
        request,
        "tiers/vendor.html",
        {
            "handoff": handoff,
            "ticket": ticket,
            "vendor": handoff.vendor,
            "timeline": _vendor_thread(handoff),
            "update_form": update_form,
            "done_form": done_form,
            "is_open": is_open,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@login_required
def handoff_create(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    form = HandoffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a hand-off summary for the vendor.")
    else:
        try:
            handoff = services.vendor_handoff(
                ticket=ticket, actor=request.user, summary=form.cleaned_data["summary"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"Handed to {handoff.vendor.company}. You stay accountable for it."
            )
    return redirect("tickets:agent-ticket", reference=reference)


@require_POST
@login_required
def handoff_revoke(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    handoffs = VendorHandoff.objects.select_related("ticket", "vendor").filter(
        ticket=ticket, revoked_at__isnull=True
    )
    raw_id = request.POST.get("handoff", "")
    if raw_id.isdigit():
        handoffs = handoffs.filter(pk=int(raw_id))
    handoff = handoffs.order_by("-created_at").first()
    if handoff is None:
        messages.error(request, "This ticket has no vendor link to revoke.")
        return redirect("tickets:agent-ticket", reference=reference)
    try:
        services.vendor_handoff_revoke(handoff=handoff, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The link for {handoff.vendor.company} no longer works.")
    return redirect("tickets:agent-ticket", reference=reference)
