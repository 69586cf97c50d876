"""The customer portal: home, submit, confirmation, tracking, my tickets."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from helpdesk.exceptions import DomainError
from tiers.models import CUSTOMER_TIER_NAMES, TierLevel

from ..forms import CustomerReplyForm, TicketSubmitForm
from ..models import Category, Ticket
from ..selectors import ticket_get_by_token, ticket_timeline, tickets_of_requester
from ..services import core
from ..services.clock import next_update_due


def home(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.filter(is_active=True).only("name", "slug", "description")
    return render(request, "tickets/portal/home.html", {"categories": categories})


@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    user = request.user if request.user.is_authenticated else None
    if request.method == "POST":
        form = TicketSubmitForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            if data.get("website"):
                # Honeypot filled: pretend success, keep nothing.
                return render(request, "tickets/portal/submitted.html", {"ticket": None})
            try:
                ticket = core.ticket_create(
                    category=data["category"],
                    subject=data["subject"],
                    description=data["description"],
                    requester=user,
                    requester_name=data["name"],
                    requester_email=data["email"],
                    priority=core.priority_from(
                        category=data["category"], urgency=data["urgency"], impact=data["impact"]
                    ),
                    submission_key=data.get("submission_key") or None,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return redirect("tickets:ticket-submitted", token=ticket.tracking_token)
    else:
        initial = {"submission_key": secrets.token_urlsafe(24)}
        if user is not None:
            initial.update(name=user.get_full_name() or user.get_username(), email=user.email)
        if request.GET.get("subject"):
            initial["subject"] = request.GET["subject"][:200]
        if request.GET.get("category"):
            initial["category"] = Category.objects.filter(slug=request.GET["category"]).first()
        form = TicketSubmitForm(initial=initial)
    return render(request, "tickets/portal/new.html", {"form": form})


def ticket_submitted(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_get_by_token(token=token)
    return render(request, "tickets/portal/submitted.html", {"ticket": ticket})


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_get_by_token(token=token)
    form = CustomerReplyForm()
    if request.method == "POST":
        form = CustomerReplyForm(request.POST)
        if form.is_valid():
            try:
                core.ticket_customer_reply(
                    ticket=ticket,
                    body=form.cleaned_data["body"],
                    actor=request.user if request.user.is_authenticated else None,
                )
            except DomainError as exc:
                form.add_error("body", exc.message)
            else:
                messages.success(request, "Your reply was sent.")
                return redirect("tickets:track", token=token)
    context = {
        "ticket": ticket,
        "timeline": ticket_timeline(ticket=ticket, public_only=True),
        "form": form,
        "tier_name": CUSTOMER_TIER_NAMES.get(ticket.tier, ""),
        "tiers": [(t.value, CUSTOMER_TIER_NAMES[t.value]) for t in TierLevel],
        "next_update_due": next_update_due(ticket),
    }
    return render(request, "tickets/portal/track.html", context)


@login_required
def my_tickets(request: HttpRequest) -> HttpResponse:
    tickets = tickets_of_requester(user=request.user).only(
        "reference",
        "subject",
        "status",
        "tier",
        "created_at",
        "updated_at",
        "tracking_token",
        "category__name",
    )[:200]
    return render(
        request, "tickets/portal/my_tickets.html", {"tickets": tickets, "Status": Ticket.Status}
    )
