"""Pages: the managers' rule editor, the macro editor, and the ticket page's tag and
macro actions (posted from the panel ``automation_panel`` renders)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from helpdesk.exceptions import DomainError, ForbiddenError
from tickets.models import TicketEvent
from tickets.selectors import ticket_get_visible_to
from tiers.selectors import agent_profile_of, user_is_manager

from . import selectors, services
from .forms import MacroForm, TriggerForm
from .models import Trigger


def manager_required(view: Callable) -> Callable:
    """The one role check of the rule pages: managers only (as the dashboard)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not user_is_manager(request.user):
            raise PermissionDenied("Automation rules are for help-desk managers.")
        return view(request, *args, **kwargs)

    return wrapper


def staff_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if agent_profile_of(request.user) is None and not user_is_manager(request.user):
            raise PermissionDenied("Macros are for help-desk staff.")
        return view(request, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------
# Triggers (managers)
# ---------------------------------------------------------------------------


@manager_required
def trigger_list(request: HttpRequest) -> HttpResponse:
    labels = dict(TicketEvent.Kind.choices)
    triggers = list(selectors.trigger_list())
    for trigger in triggers:
        trigger.kind_labels = [str(labels.get(k, k)) for k in trigger.event_kinds or ()]
    return render(request, "automation/trigger_list.html", {"triggers": triggers})


@manager_required
def trigger_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    trigger = get_object_or_404(Trigger, pk=pk) if pk else None
    form = TriggerForm(request.POST or None, instance=trigger)
    if request.method == "POST":
        if form.is_valid():
            with transaction.atomic():
                saved = form.save(commit=False)
                if saved.created_by_id is None:
                    saved.created_by = request.user
                saved.save()
                form.save_m2m()
            messages.success(request, f"Rule “{saved.name}” saved.")
            return redirect("automation:trigger-list")
        return render(
            request, "automation/trigger_form.html", {"form": form, "trigger": trigger}, status=400
        )
    return render(request, "automation/trigger_form.html", {"form": form, "trigger": trigger})


@require_POST
@manager_required
def trigger_delete(request: HttpRequest, pk: int) -> HttpResponse:
    trigger = get_object_or_404(Trigger, pk=pk)
    if request.POST.get("action") == "deactivate":
        trigger.is_active = False
        trigger.save(update_fields=["is_active", "updated_at"])
        messages.success(request, f"Rule “{trigger.name}” deactivated.")
    else:
        name = trigger.name
        trigger.delete()
        messages.success(request, f"Rule “{name}” deleted.")
    return redirect("automation:trigger-list")


# ---------------------------------------------------------------------------
# Macros (managers: all; agents: their own)
# ---------------------------------------------------------------------------


@staff_required
def macro_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "automation/macro_list.html",
        {
            "macros": list(selectors.macros_editable_by(user=request.user)),
            "is_manager": user_is_manager(request.user),
        },
    )


@staff_required
def macro_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    macro = (
        get_object_or_404(selectors.macros_editable_by(user=request.user), pk=pk) if pk else None
    )
    manager = user_is_manager(request.user)
    form = MacroForm(request.POST or None, instance=macro, manager=manager, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = services.macro_save(macro=form.save(commit=False))
            except DomainError as exc:
                form.add_error(exc.field or None, exc.message)
            else:
                messages.success(request, f"Macro “{saved.name}” saved.")
                return redirect("automation:macro-list")
        return render(
            request, "automation/macro_form.html", {"form": form, "macro": macro}, status=400
        )
    return render(request, "automation/macro_form.html", {"form": form, "macro": macro})


@require_POST
@staff_required
def macro_delete(request: HttpRequest, pk: int) -> HttpResponse:
    macro = get_object_or_404(selectors.macros_editable_by(user=request.user), pk=pk)
    name = macro.name
    macro.delete()
    messages.success(request, f"Macro “{name}” deleted.")
    return redirect("automation:macro-list")


# ---------------------------------------------------------------------------
# Ticket page actions
# ---------------------------------------------------------------------------


def _ticket_action(
    request: HttpRequest, reference: str, action: Callable, done: Callable[[object], str]
) -> HttpResponse:
    """Run one service on a ticket the user can see. Refused: a page saying why with
    the service's 4xx and a link back; forbidden: 403."""
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    try:
        result = action(ticket)
    except ForbiddenError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        return render(
            request,
            "automation/ticket_refused.html",
            {"ticket": ticket, "message": exc.message},
            status=exc.status,
        )
    messages.success(request, done(result))
    return redirect("tickets:agent-ticket", reference=reference)


@require_POST
@staff_required
def ticket_tags(request: HttpRequest, reference: str) -> HttpResponse:
    remove = (request.POST.get("remove") or "").strip()[:40]
    if remove:
        return _ticket_action(
            request,
            reference,
            lambda t: services.ticket_tag_remove(ticket=t, actor=request.user, name=remove),
            lambda removed: f"Removed the tag {remove}." if removed else "No such tag here.",
        )
    raw = (request.POST.get("tags") or "")[:300]
    return _ticket_action(
        request,
        reference,
        lambda t: services.ticket_tags_add(ticket=t, actor=request.user, names=raw),
        lambda added: f"Tagged {', '.join(added)}." if added else "Already tagged.",
    )


@require_POST
@staff_required
def ticket_macro(request: HttpRequest, reference: str) -> HttpResponse:
    raw = (request.POST.get("macro") or "").strip()
    macro_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    # Someone else's personal macro is "no such macro", like a missing one.
    macro = get_object_or_404(selectors.macros_usable_by(user=request.user), pk=macro_id)
    return _ticket_action(
        request,
        reference,
        lambda t: services.macro_apply(macro=macro, ticket=t, actor=request.user),
        lambda _t: f"Applied the macro “{macro.name}”.",
    )
