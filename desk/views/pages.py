"""The manager pages: one small class per page, on the generic views of ``base``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from helpdesk.exceptions import DomainError
from integrations.models import ApiToken, Webhook
from tickets.models import CannedResponse, Category, LifecyclePolicy
from tiers.models import (
    AgentProfile,
    BusinessCalendar,
    EscalationPolicy,
    Holiday,
    Priority,
    SLAPolicy,
    TierAssignment,
    VendorContact,
    WorkingHours,
)

from .. import forms, selectors, services
from ..filters import AuditEntryFilter
from .base import (
    ManagedDeleteView,
    ManagedFormView,
    ManagedListView,
    ManagerRequiredMixin,
    refused,
)

AUDIT_PAGE_SIZE = 50


SECTION_HELP = {
    "agents": _("Add agents, set their tier, availability and capacity; deactivate, reset access."),
    "categories": _("What customers choose, the tier each starts at, its default priority."),
    "budgets": _("How long a ticket may stay in each tier, per priority."),
    "assignment": _("Whether each tier's new tickets go to an agent on their own, and how."),
    "lifecycle": _("When a waiting customer is reminded, and when tickets resolve and close."),
    "calendars": _("Working hours, holidays and time zones the budget clocks count in."),
    "sla": _("First-response and resolution targets promised to customers."),
    "vendors": _("Suppliers for Tier 4 hand-offs and the categories they cover."),
    "canned": _("Reply templates for agents."),
    "webhooks": _("Signed notifications to other systems."),
    "tokens": _("Everyone's API tokens; revoke one at once."),
    "audit": _("Who changed what, and when."),
}


class IndexView(ManagerRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        recent = selectors.audit_entry_list()[:10]
        return self.page(request, "desk/index.html", {"recent": recent, "help": SECTION_HELP})


# --- Agents -----------------------------------------------------------------


def _capacity(profile: AgentProfile) -> str:
    if profile.capacity is None:
        return f"{profile.open_tickets} / —"
    return f"{profile.open_tickets} / {profile.capacity}"


class AgentListView(ManagedListView):
    section = "agents"
    title = _("Agents")
    intro = _("Who works which tier. Open tickets are shown against each agent's capacity.")
    columns = [
        (_("Username"), lambda p: p.user.get_username()),
        (_("Name"), lambda p: p.user.get_full_name()),
        (_("Tier"), "tier"),
        (_("Manager"), "is_manager"),
        (_("Available"), "is_available"),
        (_("Open / capacity"), _capacity),
        (_("Active"), "is_active"),
    ]
    new_url = "desk:agent-new"
    edit_url = "desk:agent-edit"

    def queryset(self):
        return selectors.agent_list()


class AgentCreateView(ManagerRequiredMixin, View):
    section = "agents"

    def render_form(self, request, form, status: int = 200) -> HttpResponse:
        context = {
            "title": gettext("New agent"),
            "intro": gettext(
                "The agent gets an e-mail with a link to choose their password; you never see it."
            ),
            "form": form,
            "list_url": reverse("desk:agents"),
        }
        return self.page(request, "desk/form.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_form(request, forms.AgentCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.AgentCreateForm(request.POST)
        if not form.is_valid():
            return self.render_form(request, form, status=400)
        try:
            profile = services.agent_create(
                actor=request.user, request=request, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.render_form(request, form, status=exc.status)
        messages.success(
            request,
            gettext("Agent %(name)s created; a set-your-password e-mail is on its way.")
            % {"name": profile.user.get_username()},
        )
        return redirect("desk:agents")


class AgentEditView(ManagedFormView):
    section = "agents"
    model = AgentProfile
    form_class = forms.AgentForm
    list_url = "desk:agents"
    noun = _("agent")

    def get_object(self, pk):
        return get_object_or_404(AgentProfile.objects.select_related("user"), pk=pk)

    def make_form(self, request, obj):
        data = request.POST if request.method == "POST" else None
        return forms.AgentForm(data, instance=obj, actor=request.user)

    def extra_context(self, request, obj) -> dict:
        return {"agent": obj, "token_count": obj.user.api_tokens.filter(revoked_at=None).count()}


class AgentPasswordResetView(ManagerRequiredMixin, View):
    section = "agents"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        profile = get_object_or_404(AgentProfile.objects.select_related("user"), pk=pk)
        services.agent_password_reset(actor=request.user, profile=profile, request=request)
        messages.success(
            request,
            gettext("%(name)s's password no longer works; a link to choose a new one was sent.")
            % {"name": profile.user.get_username()},
        )
        return redirect("desk:agent-edit", pk=pk)


class AgentTokensRevokeView(ManagerRequiredMixin, View):
    section = "agents"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        profile = get_object_or_404(AgentProfile.objects.select_related("user"), pk=pk)
        count = services.agent_tokens_revoke(actor=request.user, profile=profile)
        messages.success(request, gettext("%(n)s API tokens revoked.") % {"n": count})
        return redirect("desk:agent-edit", pk=pk)


# --- Categories -------------------------------------------------------------


class CategoryListView(ManagedListView):
    section = "categories"
    title = _("Categories")
    intro = _("What customers choose on the form; each sends its tickets to an entry tier.")
    columns = [
        (_("Name"), "name"),
        (_("Entry tier"), lambda c: c.get_entry_tier_display()),
        (_("Default priority"), lambda c: c.get_default_priority_display()),
        (_("Order"), "sort_order"),
        (_("Active"), "is_active"),
    ]
    new_url = "desk:category-new"
    edit_url = "desk:category-edit"

    def queryset(self):
        return selectors.category_list()


class CategoryFormView(ManagedFormView):
    section = "categories"
    model = Category
    form_class = forms.CategoryForm
    list_url = "desk:categories"
    noun = _("category")


# --- Auto-assignment --------------------------------------------------------


class AssignmentListView(ManagedListView):
    section = "assignment"
    title = _("Auto-assignment")
    intro = _(
        "Per tier: off (agents claim from the queue), round robin, or least open work. "
        "Only available agents below their capacity and skilled in the category are picked."
    )
    columns = [
        (_("Tier"), lambda a: a.get_tier_display()),
        (_("Mode"), lambda a: a.get_mode_display()),
        (_("Reassign after (hours away)"), lambda a: a.reassign_after_hours or gettext("never")),
        (_("Last assigned"), lambda a: a.last_assignee.get_username() if a.last_assignee else None),
    ]
    edit_url = "desk:assignment-edit"

    def queryset(self):
        return TierAssignment.every_tier()


class AssignmentFormView(ManagedFormView):
    section = "assignment"
    model = TierAssignment
    form_class = forms.TierAssignmentForm
    list_url = "desk:assignment"
    noun = _("auto-assignment")


# --- Ticket lifecycle ---------------------------------------------------------


class LifecycleFormView(ManagedFormView):
    """The one lifecycle row: reminders, auto-resolve and auto-close, in days."""

    section = "lifecycle"
    model = LifecyclePolicy
    form_class = forms.LifecyclePolicyForm
    list_url = "desk:lifecycle"
    noun = _("ticket lifecycle")

    def get_object(self, pk):
        return LifecyclePolicy.current()

    def extra_context(self, request, obj) -> dict:
        return {
            "title": gettext("Ticket lifecycle"),
            "intro": gettext(
                "Counted in calendar days: these are promises to customers about when the "
                "desk stops waiting. 0 turns a step off."
            ),
        }

    def success_url(self, obj) -> str:
        return reverse("desk:lifecycle")


# --- Escalation budgets -----------------------------------------------------


class BudgetGridView(ManagerRequiredMixin, View):
    """Every tier × priority budget in one form; each changed cell is one audited save."""

    section = "budgets"

    def render_grid(self, request, form, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "priorities": Priority.choices,
            "policies": selectors.escalation_policy_list(),
        }
        return self.page(request, "desk/budgets.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        policies = list(selectors.escalation_policy_list())
        return self.render_grid(request, forms.BudgetGridForm(policies=policies))

    def post(self, request: HttpRequest) -> HttpResponse:
        policies = list(selectors.escalation_policy_list())
        form = forms.BudgetGridForm(request.POST, policies=policies)
        if not form.is_valid():
            return self.render_grid(request, form, status=400)
        changed = services.escalation_budgets_set(
            actor=request.user, budgets=form.changed_budgets()
        )
        if changed:
            messages.success(request, gettext("%(n)s budgets saved.") % {"n": changed})
        else:
            messages.info(request, gettext("Nothing changed."))
        return redirect("desk:budgets")


class PolicyFormView(ManagedFormView):
    section = "budgets"
    model = EscalationPolicy
    form_class = forms.EscalationPolicyForm
    list_url = "desk:budgets"
    noun = _("escalation policy")


# --- Calendars and holidays ---------------------------------------------------


class CalendarListView(ManagedListView):
    section = "calendars"
    title = _("Business calendars")
    intro = _(
        "When budget clocks run. Each calendar keeps its own time zone, whatever zone "
        "people view it in."
    )
    columns = [
        (_("Name"), "name"),
        (_("Time zone"), "time_zone"),
        (_("24×7"), "is_24x7"),
        (_("Default"), "is_default"),
        (_("Working-hour blocks"), "hours_count"),
        (_("Holidays"), "holiday_count"),
    ]
    new_url = "desk:calendar-new"
    edit_url = "desk:calendar-edit"

    def queryset(self):
        return selectors.calendar_list()


class CalendarFormView(ManagedFormView):
    section = "calendars"
    model = BusinessCalendar
    form_class = forms.CalendarForm
    list_url = "desk:calendars"
    noun = _("calendar")

    def extra_context(self, request, obj) -> dict:
        if obj is None:
            return {}
        return {
            "calendar": obj,
            "holidays": obj.holidays.all(),
            "hours": obj.hours.all(),
            "holiday_form": getattr(self, "holiday_form", None) or forms.HolidayForm(calendar=obj),
            "hours_form": getattr(self, "hours_form", None) or forms.WorkingHoursForm(calendar=obj),
        }

    def success_url(self, obj) -> str:
        return reverse("desk:calendar-edit", args=[obj.pk])


class _CalendarPartAddView(CalendarFormView):
    """Adds a holiday or a working-hours block from the calendar's page."""

    part_form: type
    attr: str

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        calendar = self.get_object(pk)
        part = self.part_form(request.POST, calendar=calendar)
        if not part.is_valid():
            setattr(self, self.attr, part)
            return self.render_form(request, calendar, self.form_class(instance=calendar), 400)
        services.audited_form_save(form=part, actor=request.user)
        messages.success(request, gettext("Added to %(cal)s.") % {"cal": calendar})
        return redirect("desk:calendar-edit", pk=pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return redirect("desk:calendar-edit", pk=pk)


class HolidayAddView(_CalendarPartAddView):
    part_form = forms.HolidayForm
    attr = "holiday_form"


class HoursAddView(_CalendarPartAddView):
    part_form = forms.WorkingHoursForm
    attr = "hours_form"


class HolidayDeleteView(ManagedDeleteView):
    section = "calendars"
    model = Holiday
    list_url = "desk:calendars"

    def back_url(self, obj) -> str:
        return reverse("desk:calendar-edit", args=[obj.calendar_id])


class HoursDeleteView(HolidayDeleteView):
    model = WorkingHours


# --- SLA, vendors, canned responses, webhooks ----------------------------------


class SLAListView(ManagedListView):
    section = "sla"
    title = _("SLA policies")
    intro = _("The customer's clock: first response and resolution targets per priority.")
    columns = [
        (_("Priority"), lambda p: p.get_priority_display()),
        (_("First response"), "first_response"),
        (_("Resolution"), "resolution"),
        (_("Warn at %"), "warn_at_percent"),
        (_("Calendar"), lambda p: p.calendar or gettext("Default")),
    ]
    new_url = "desk:sla-new"
    edit_url = "desk:sla-edit"

    def queryset(self):
        return selectors.sla_policy_list()


class SLAFormView(ManagedFormView):
    section = "sla"
    model = SLAPolicy
    form_class = forms.SLAPolicyForm
    list_url = "desk:sla"
    noun = _("SLA policy")


class VendorListView(ManagedListView):
    section = "vendors"
    title = _("Vendors")
    intro = _("Suppliers that take Tier 4 hand-offs for their categories.")
    columns = [
        (_("Company"), "company"),
        (_("Contact"), "name"),
        (_("E-mail"), "email"),
        (_("Categories"), lambda v: ", ".join(c.name for c in v.categories.all())),
        (_("Response target"), "response_target"),
        (_("Active"), "is_active"),
    ]
    new_url = "desk:vendor-new"
    edit_url = "desk:vendor-edit"

    def queryset(self):
        return selectors.vendor_list()


class VendorFormView(ManagedFormView):
    section = "vendors"
    model = VendorContact
    form_class = forms.VendorForm
    list_url = "desk:vendors"
    noun = _("vendor")


class CannedListView(ManagedListView):
    section = "canned"
    title = _("Canned responses")
    intro = _("Reply templates; agents of the tier and above see each one.")
    columns = [
        (_("Title"), "title"),
        (_("From tier"), "tier"),
        (_("Active"), "is_active"),
    ]
    new_url = "desk:canned-new"
    edit_url = "desk:canned-edit"

    def queryset(self):
        return selectors.canned_response_list()


class CannedFormView(ManagedFormView):
    section = "canned"
    model = CannedResponse
    form_class = forms.CannedResponseForm
    list_url = "desk:canned"
    delete_url = "desk:canned-delete"
    noun = _("canned response")


class CannedDeleteView(ManagedDeleteView):
    section = "canned"
    model = CannedResponse
    list_url = "desk:canned"


class WebhookListView(ManagedListView):
    section = "webhooks"
    title = _("Webhooks")
    intro = _("Public URLs that receive signed JSON when tickets are created, escalated, resolved.")
    columns = [
        (_("Name"), "name"),
        (_("URL"), "url"),
        (_("Events"), lambda w: ", ".join(w.events or ())),
        (_("Active"), "is_active"),
    ]
    new_url = "desk:webhook-new"
    edit_url = "desk:webhook-edit"

    def queryset(self):
        return selectors.webhook_list()


class WebhookFormView(ManagedFormView):
    section = "webhooks"
    model = Webhook
    form_class = forms.WebhookForm
    list_url = "desk:webhooks"
    delete_url = "desk:webhook-delete"
    noun = _("webhook")

    def extra_context(self, request, obj) -> dict:
        return {"webhook_secret": obj.secret} if obj else {}

    def make_form(self, request, obj):
        form = super().make_form(request, obj)
        if obj is None:
            form.instance.created_by = request.user
        return form


class WebhookDeleteView(ManagedDeleteView):
    section = "webhooks"
    model = Webhook
    list_url = "desk:webhooks"


# --- API tokens -------------------------------------------------------------


class TokenListView(ManagerRequiredMixin, View):
    """Every user's API tokens (never their secrets), newest first, with revoke."""

    section = "tokens"

    def get(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(selectors.api_token_list(), 100).get_page(request.GET.get("page"))
        return self.page(request, "desk/tokens.html", {"page": page})


class TokenRevokeView(ManagerRequiredMixin, View):
    section = "tokens"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
        try:
            services.api_token_revoke_any(actor=request.user, token=token)
        except DomainError as exc:
            return refused(self, request, exc, reverse("desk:tokens"))
        messages.success(request, gettext("Token “%(name)s” revoked.") % {"name": token.name})
        return redirect("desk:tokens")


# --- Audit log --------------------------------------------------------------


class AuditLogView(ManagerRequiredMixin, View):
    section = "audit"

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = AuditEntryFilter(request.GET or None, queryset=selectors.audit_entry_list())
        if filterset.is_bound and not filterset.is_valid():
            context = {"filter": filterset, "page": None}
            return self.page(request, "desk/audit.html", context, status=400)
        page = Paginator(filterset.qs, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {"filter": filterset, "page": page, "query": query.urlencode()}
        return self.page(request, "desk/audit.html", context)
