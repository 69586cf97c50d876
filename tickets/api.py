"""The ticket API (``/api/v1/tickets/…``): one APIView per action, HackSoft style.

Every view fetches the ticket through ``ticket_get_visible_to`` (404 for "not yours")
and changes it only through ``tickets.services``, exactly like the HTML views; the
services check ``user_can_act_on`` for writes.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.exceptions import DomainError, ForbiddenError
from integrations.schema import error_responses
from integrations.scopes import TICKETS_WRITE_ON_POST, TokenScope
from knowledgebase.selectors import article_list_visible_to
from tiers.models import Priority
from tiers.selectors import agent_profile_of, user_is_manager

from .forms import TicketSubmitForm
from .models import Attachment, Category, Ticket, TicketEvent, ticket_text_contains
from .selectors import (
    ticket_attachments,
    ticket_get_visible_to,
    ticket_list_visible_to,
    ticket_timeline,
)
from .services import core
from .services.portal import ticket_open
from .services.uploads import ticket_attachments_upload

REFERENCE_RE = re.compile(r"TD-\d{1,12}")
TAG = ["tickets"]


def is_helpdesk_staff(user) -> bool:
    """Agents and managers; everyone else is a customer."""
    return agent_profile_of(user) is not None or user_is_manager(user)


def get_ticket(request: Request, reference: str) -> Ticket:
    # A malformed reference is simply not found (and never reaches the database).
    if not REFERENCE_RE.fullmatch(reference or ""):
        raise Http404
    return ticket_get_visible_to(user=request.user, reference=reference)


def require_staff(request: Request) -> None:
    if not is_helpdesk_staff(request.user):
        raise ForbiddenError(_("Only help-desk agents can do this."))


def staff_action(request: Request, reference: str, serializer_class=None) -> tuple[Ticket, dict]:
    """The ticket an agent acts on and the validated input: 404, then 403, then 400."""
    ticket = get_ticket(request, reference)
    require_staff(request)
    if serializer_class is None:
        return ticket, {}
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return ticket, serializer.validated_data


# ---------------------------------------------------------------------------
# Shared output
# ---------------------------------------------------------------------------


class CategoryOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class TicketOutputSerializer(serializers.Serializer):
    """A ticket as its reader may see it: customers do not see staff names or the
    internal tier deadline."""

    reference = serializers.CharField()
    subject = serializers.CharField()
    description = serializers.CharField()
    category = CategoryOutputSerializer()
    status = serializers.ChoiceField(choices=Ticket.Status.choices)
    tier = serializers.IntegerField(min_value=1, max_value=4)
    priority = serializers.ChoiceField(choices=Priority.choices)
    requester_name = serializers.CharField()
    assignee = serializers.SerializerMethodField()
    escalate_at = serializers.SerializerMethodField()
    first_response_due = serializers.DateTimeField(allow_null=True)
    resolution_due = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def _staff(self) -> bool:
        return bool(self.context.get("staff"))

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="Assignee's username (staff only).")
    )
    def get_assignee(self, ticket: Ticket) -> str | None:
        if not self._staff() or ticket.assignee is None:
            return None
        return ticket.assignee.get_username()

    @extend_schema_field(
        serializers.DateTimeField(allow_null=True, help_text="Tier budget deadline (staff only).")
    )
    def get_escalate_at(self, ticket: Ticket) -> str | None:
        if not self._staff() or ticket.escalate_at is None:
            return None
        return serializers.DateTimeField().to_representation(ticket.escalate_at)


TICKET_EXAMPLE = {
    "reference": "TD-000042",
    "subject": "Cannot log in to the VPN",
    "description": "Since this morning the VPN client says my password is wrong.",
    "category": {"slug": "password-reset", "name": "Password reset"},
    "status": "open",
    "tier": 1,
    "priority": "normal",
    "requester_name": "Chris Customer",
    "assignee": "agent1",
    "escalate_at": "2026-11-26T17:00:00Z",
    "first_response_due": "2026-11-26T13:00:00Z",
    "resolution_due": "2026-11-29T09:00:00Z",
    "resolution": "",
    "resolved_at": None,
    "created_at": "2026-11-26T09:00:00Z",
    "updated_at": "2026-11-26T09:05:00Z",
}


def ticket_response(request: Request, ticket: Ticket, code: int = status.HTTP_200_OK) -> Response:
    data = TicketOutputSerializer(ticket, context={"staff": is_helpdesk_staff(request.user)}).data
    return Response(data, status=code)


def reload(request: Request, ticket: Ticket) -> Ticket:
    """The ticket after a service changed it, re-read with its related rows."""
    return ticket_list_visible_to(user=request.user).filter(pk=ticket.pk).first() or ticket


# ---------------------------------------------------------------------------
# List and create
# ---------------------------------------------------------------------------


class TicketPagination(CursorPagination):
    """Stable under inserts: newest first, ties broken by id."""

    ordering = ("-created_at", "-id")
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


# The web form's plain-words choices: one mapping to priority (core.priority_from).
URGENCY_CHOICES = TicketSubmitForm.URGENCY
IMPACT_CHOICES = TicketSubmitForm.IMPACT

#: Never accepted on creation: the help desk sets these through its own actions.
SERVER_SET_FIELDS = ("tier", "assignee", "status")
#: Agents may set these on creation (a caller on the phone); customers may not.
STAFF_ONLY_CREATE_FIELDS = ("priority", "requester_name", "requester_email")


class TicketListApi(APIView):
    pagination_class = TicketPagination
    token_scopes = TICKETS_WRITE_ON_POST

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
        tier = serializers.IntegerField(min_value=1, max_value=4, required=False)
        priority = serializers.ChoiceField(choices=Priority.choices, required=False)
        category = serializers.SlugField(max_length=120, required=False, help_text="Category slug.")
        assignee = serializers.RegexField(
            r"^[\w.@+-]+$", max_length=150, required=False, help_text="Assignee's username."
        )
        q = serializers.CharField(
            max_length=200, required=False, help_text="Words in the subject, or a reference."
        )

    @extend_schema_serializer(component_name="TicketCreate")
    class InputSerializer(serializers.Serializer):
        category = serializers.SlugRelatedField(
            slug_field="slug", queryset=Category.objects.filter(is_active=True)
        )
        subject = serializers.CharField(max_length=200)
        description = serializers.CharField(max_length=20000, min_length=10)
        urgency = serializers.ChoiceField(choices=URGENCY_CHOICES, default="medium")
        impact = serializers.ChoiceField(choices=IMPACT_CHOICES, default="low")
        priority = serializers.ChoiceField(
            choices=Priority.choices, required=False, help_text="Agents only."
        )
        requester_name = serializers.CharField(
            max_length=120, required=False, help_text="Agents only: on behalf of this person."
        )
        requester_email = serializers.EmailField(required=False, help_text="Agents only.")

    @staticmethod
    def filter_queryset(qs: QuerySet[Ticket], filters: dict) -> QuerySet[Ticket]:
        # Allow-listed filters mapped to fields: nothing from the request names a column.
        if "status" in filters:
            qs = qs.filter(status=filters["status"])
        if "tier" in filters:
            qs = qs.filter(tier=filters["tier"])
        if "priority" in filters:
            qs = qs.filter(priority=filters["priority"])
        if "category" in filters:
            qs = qs.filter(category__slug=filters["category"])
        if "assignee" in filters:
            qs = qs.filter(assignee__username=filters["assignee"])
        query = (filters.get("q") or "").strip()
        if query:
            condition = Q(reference__iexact=query)
            words = Q()
            for word in query.split()[:8]:
                words &= ticket_text_contains("subject", word)
            qs = qs.filter(condition | words)
        return qs

    @extend_schema(
        operation_id="tickets_list",
        tags=TAG,
        summary="List the tickets you may see",
        description=(
            "Customers see their own tickets; agents their tier and below (Tier 3 also "
            "Tier 4); managers all. Newest first, cursor-paginated: follow `next`."
        ),
        parameters=[FilterSerializer],
        responses={200: TicketOutputSerializer(many=True), **error_responses(400, 401, 404, 429)},
        examples=[OpenApiExample("Tickets", response_only=True, value=TICKET_EXAMPLE)],
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = self.filter_queryset(ticket_list_visible_to(user=request.user), filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        data = TicketOutputSerializer(
            page, many=True, context={"staff": is_helpdesk_staff(request.user)}
        ).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="tickets_create",
        tags=TAG,
        summary="Open a ticket",
        description=(
            "Customers give the category, subject, description, urgency and impact (the "
            "priority follows from them). Agents may also set the priority and open the "
            "ticket for someone else. Tier, assignee and status are never set here. Send an "
            "`Idempotency-Key` header to make retries safe: the same key returns the same "
            "ticket (200) instead of a second one (201)."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="Up to 64 characters, unique per ticket you mean to create.",
            )
        ],
        request=InputSerializer,
        responses={
            201: TicketOutputSerializer,
            200: TicketOutputSerializer,
            **error_responses(400, 401, 403, 429),
        },
        examples=[
            OpenApiExample(
                "Customer",
                request_only=True,
                value={
                    "category": "password-reset",
                    "subject": "Cannot log in to the VPN",
                    "description": "Since this morning the VPN client says my password is wrong.",
                    "urgency": "high",
                    "impact": "low",
                },
            ),
            OpenApiExample("Created", response_only=True, status_codes=[201], value=TICKET_EXAMPLE),
        ],
    )
    def post(self, request: Request) -> Response:
        user = request.user
        staff = is_helpdesk_staff(user)
        if isinstance(request.data, dict):
            refused = {
                name: [_("This is set by the help desk, not when a ticket is opened.")]
                for name in SERVER_SET_FIELDS
                if name in request.data
            }
            if not staff:
                refused.update(
                    {
                        name: [_("Only agents can set this; describe urgency and impact instead.")]
                        for name in STAFF_ONLY_CREATE_FIELDS
                        if name in request.data
                    }
                )
            if refused:
                raise serializers.ValidationError(refused)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # A retried request (same key) gets its first ticket back: 200 instead of 201.
        ticket, created = ticket_open(
            user=user,
            staff=staff,
            category=data["category"],
            subject=data["subject"],
            description=data["description"],
            urgency=data["urgency"],
            impact=data["impact"],
            priority=data.get("priority"),
            requester_name=data.get("requester_name"),
            requester_email=data.get("requester_email"),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        ticket = Ticket.objects.select_related("category", "assignee").get(pk=ticket.pk)
        return ticket_response(
            request, ticket, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


# ---------------------------------------------------------------------------
# One ticket
# ---------------------------------------------------------------------------

REFERENCE_PARAM = OpenApiParameter(
    "reference",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The ticket reference, e.g. TD-000042.",
)


class TicketDetailApi(APIView):
    token_scopes = {"GET": TokenScope.READ}

    @extend_schema(
        operation_id="tickets_retrieve",
        tags=TAG,
        summary="One ticket",
        description="404 when the ticket does not exist or is not yours to see.",
        parameters=[REFERENCE_PARAM],
        responses={200: TicketOutputSerializer, **error_responses(401, 404, 429)},
        examples=[OpenApiExample("Ticket", response_only=True, value=TICKET_EXAMPLE)],
    )
    def get(self, request: Request, reference: str) -> Response:
        return ticket_response(request, get_ticket(request, reference))


class EventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=TicketEvent.Kind.choices)
    kind_display = serializers.CharField(source="get_kind_display")
    author = serializers.SerializerMethodField()
    body = serializers.CharField()
    internal = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField())
    def get_author(self, event: TicketEvent) -> str:
        if event.actor is not None:
            return event.actor.get_full_name() or event.actor.get_username()
        return event.actor_name or "Tierdesk"

    @extend_schema_field(
        serializers.BooleanField(help_text="Internal: never shown to the customer.")
    )
    def get_internal(self, event: TicketEvent) -> bool:
        return not event.is_public


EVENT_EXAMPLE = {
    "id": 1234,
    "kind": "reply",
    "kind_display": "Public reply",
    "author": "Alex Frontline",
    "body": "Please try resetting your password at /kb/reset-your-password/.",
    "internal": False,
    "created_at": "2026-11-26T09:10:00Z",
}


class TicketCommentsApi(APIView):
    token_scopes = TICKETS_WRITE_ON_POST

    @extend_schema_serializer(component_name="CommentCreate")
    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=20000)
        internal = serializers.BooleanField(
            default=False, help_text="Agents only: an internal note, never shown to the customer."
        )
        pending_customer = serializers.BooleanField(
            default=False, help_text="Agents only: wait for the customer (pauses the tier clock)."
        )

    @extend_schema(
        operation_id="tickets_comments_list",
        tags=TAG,
        summary="The ticket's timeline",
        description="Customers see the public entries; agents also see internal notes.",
        parameters=[REFERENCE_PARAM],
        responses={200: EventOutputSerializer(many=True), **error_responses(401, 404, 429)},
        examples=[OpenApiExample("Timeline", response_only=True, value=[EVENT_EXAMPLE])],
    )
    def get(self, request: Request, reference: str) -> Response:
        ticket = get_ticket(request, reference)
        events = ticket_timeline(ticket=ticket, public_only=not is_helpdesk_staff(request.user))
        return Response(EventOutputSerializer(events, many=True).data)

    @extend_schema(
        operation_id="tickets_comments_create",
        tags=TAG,
        summary="Reply, or add an internal note",
        description=(
            "A customer's message goes to the help desk (a resolved ticket reopens). An "
            "agent's reply is e-mailed to the customer; with `internal: true` it is an "
            "internal note instead (agents only)."
        ),
        parameters=[REFERENCE_PARAM],
        request=InputSerializer,
        responses={201: EventOutputSerializer, **error_responses(400, 401, 403, 404, 429)},
        examples=[
            OpenApiExample("Reply", request_only=True, value={"body": "Did the reset link work?"}),
            OpenApiExample(
                "Internal note",
                request_only=True,
                value={"body": "Account was locked by AD policy.", "internal": True},
            ),
            OpenApiExample("Posted", response_only=True, status_codes=[201], value=EVENT_EXAMPLE),
        ],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = get_ticket(request, reference)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if is_helpdesk_staff(request.user):
            if data["internal"]:
                event = core.ticket_add_note(ticket=ticket, agent=request.user, body=data["body"])
            else:
                event = core.ticket_reply(
                    ticket=ticket,
                    agent=request.user,
                    body=data["body"],
                    pending_customer=data["pending_customer"],
                )
        else:
            if data["internal"]:
                raise ForbiddenError(_("Only agents can add internal notes."), field="internal")
            event = core.ticket_customer_reply(ticket=ticket, body=data["body"], actor=request.user)
        return Response(EventOutputSerializer(event).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------
# Agent actions
# ---------------------------------------------------------------------------

ACTION_ERRORS = error_responses(400, 401, 403, 404, 409, 429)


def action_schema(operation_id: str, summary: str, description: str, request=None, example=None):
    examples = [OpenApiExample("Ticket", response_only=True, value=TICKET_EXAMPLE)]
    if example is not None:
        examples.insert(0, OpenApiExample("Request", request_only=True, value=example))
    return extend_schema(
        operation_id=operation_id,
        tags=TAG,
        summary=summary,
        description=description,
        parameters=[REFERENCE_PARAM],
        request=request,
        responses={200: TicketOutputSerializer, **ACTION_ERRORS},
        examples=examples,
    )


class TicketClaimApi(APIView):
    token_scopes = {"POST": TokenScope.TICKETS_WRITE}

    @action_schema(
        "tickets_claim",
        "Claim the ticket",
        "Assign it to yourself. 409 when another agent claimed it first.",
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket, _ = staff_action(request, reference)
        ticket = core.ticket_claim(ticket=ticket, agent=request.user)
        return ticket_response(request, reload(request, ticket))


class TicketEscalateApi(APIView):
    token_scopes = {"POST": TokenScope.TICKETS_WRITE}

    @extend_schema_serializer(component_name="TicketEscalate")
    class InputSerializer(serializers.Serializer):
        symptom = serializers.CharField(max_length=4000)
        steps_tried = serializers.CharField(max_length=4000)
        findings = serializers.CharField(max_length=4000)
        articles = serializers.ListField(
            child=serializers.SlugField(max_length=200),
            max_length=20,
            required=False,
            default=list,
            help_text=(
                "Slugs of the KB articles consulted; slugs of articles you cannot read "
                "(or that do not exist) are left out of the hand-off."
            ),
        )
        expected_tier = serializers.IntegerField(
            min_value=1,
            max_value=4,
            required=False,
            help_text="The tier you saw; if a timer moved the ticket meanwhile you get 409.",
        )

    @action_schema(
        "tickets_escalate",
        "Escalate one tier with a hand-off",
        "Tier 1 → 2 or 2 → 3, with the symptom, the steps tried and the findings "
        "(all required). Tier 3 tickets go to a vendor through the vendor hand-off.",
        request=InputSerializer,
        example={
            "symptom": "VPN rejects the password.",
            "steps_tried": "Reset the password; cleared the credential cache.",
            "findings": "The RADIUS server logs show no request from this user.",
            "articles": ["reset-your-password"],
            "expected_tier": 1,
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket, data = staff_action(request, reference, self.InputSerializer)
        ticket = core.ticket_escalate(ticket=ticket, actor=request.user, **data)
        return ticket_response(request, reload(request, ticket))


class TicketDeescalateApi(APIView):
    token_scopes = {"POST": TokenScope.TICKETS_WRITE}

    @extend_schema_serializer(component_name="TicketDeescalate")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=4000)

    @action_schema(
        "tickets_deescalate",
        "Send the ticket one tier down",
        "Tier 2 → 1 or 3 → 2; the reason is required and shown in the timeline.",
        request=InputSerializer,
        example={"reason": "A password reset; Tier 1 has the script for it."},
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket, data = staff_action(request, reference, self.InputSerializer)
        ticket = core.ticket_deescalate(ticket=ticket, actor=request.user, **data)
        return ticket_response(request, reload(request, ticket))


class TicketResolveApi(APIView):
    token_scopes = {"POST": TokenScope.TICKETS_WRITE}

    @extend_schema_serializer(component_name="TicketResolve")
    class InputSerializer(serializers.Serializer):
        resolution = serializers.CharField(max_length=20000)
        article = serializers.SlugField(
            max_length=200, required=False, help_text="Slug of the KB article that solved it."
        )

    @action_schema(
        "tickets_resolve",
        "Resolve the ticket",
        "With the resolution text and optionally the KB article that solved it.",
        request=InputSerializer,
        example={"resolution": "Reset the password.", "article": "reset-your-password"},
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket, data = staff_action(request, reference, self.InputSerializer)
        article = None
        if data.get("article"):
            article = (
                article_list_visible_to(user=request.user).filter(slug=data["article"]).first()
            )
            if article is None:
                raise DomainError(_("No published article with this slug."), field="article")
        ticket = core.ticket_resolve(
            ticket=ticket, actor=request.user, resolution=data["resolution"], article=article
        )
        return ticket_response(request, reload(request, ticket))


class TicketStatusApi(APIView):
    token_scopes = {"POST": TokenScope.TICKETS_WRITE}

    @extend_schema_serializer(component_name="TicketStatusChange")
    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=[
                (Ticket.Status.OPEN.value, Ticket.Status.OPEN.label),
                (Ticket.Status.PENDING_CUSTOMER.value, Ticket.Status.PENDING_CUSTOMER.label),
            ]
        )
        reason = serializers.CharField(
            max_length=2000, required=False, allow_blank=True, default=""
        )

    @action_schema(
        "tickets_status",
        "Change the status",
        "Between open and waiting for the customer (which pauses the tier clock). "
        "Resolving has its own endpoint.",
        request=InputSerializer,
        example={"status": "pending_customer", "reason": "Asked for the error message."},
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket, data = staff_action(request, reference, self.InputSerializer)
        ticket = core.ticket_change_status(ticket=ticket, actor=request.user, **data)
        return ticket_response(request, reload(request, ticket))


# ---------------------------------------------------------------------------
# Attachments
# ---------------------------------------------------------------------------


class AttachmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="original_name")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    internal = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.BooleanField())
    def get_internal(self, attachment: Attachment) -> bool:
        return not attachment.is_public

    @extend_schema_field(serializers.CharField(help_text="Download (same access rules)."))
    def get_download_url(self, attachment: Attachment) -> str:
        return reverse("tickets:attachment", kwargs={"pk": attachment.pk})


ATTACHMENT_EXAMPLE = {
    "id": 7,
    "name": "error.png",
    "content_type": "image/png",
    "size": 48213,
    "internal": False,
    "created_at": "2026-11-26T09:12:00Z",
    "download_url": "/attachments/7/",
}


class TicketAttachmentsApi(APIView):
    parser_classes = [MultiPartParser]
    token_scopes = TICKETS_WRITE_ON_POST

    @extend_schema_serializer(component_name="AttachmentUpload")
    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="One file; size and type are checked.")
        internal = serializers.BooleanField(default=False, help_text="Agents only.")

    @extend_schema(
        operation_id="tickets_attachments_list",
        tags=TAG,
        summary="The ticket's attachments",
        description="Customers see the public ones; agents all.",
        parameters=[REFERENCE_PARAM],
        responses={200: AttachmentOutputSerializer(many=True), **error_responses(401, 404, 429)},
        examples=[OpenApiExample("Attachments", response_only=True, value=[ATTACHMENT_EXAMPLE])],
    )
    def get(self, request: Request, reference: str) -> Response:
        ticket = get_ticket(request, reference)
        attachments = ticket_attachments(
            ticket=ticket, public_only=not is_helpdesk_staff(request.user)
        )
        return Response(AttachmentOutputSerializer(attachments, many=True).data)

    @extend_schema(
        operation_id="tickets_attachments_create",
        tags=TAG,
        summary="Attach a file",
        description=(
            "multipart/form-data with `file`. Allowed types and the size limit are those of "
            "the web form; anything else is refused with a message."
        ),
        parameters=[REFERENCE_PARAM],
        request={"multipart/form-data": InputSerializer},
        responses={
            201: AttachmentOutputSerializer(many=True),
            **error_responses(400, 401, 403, 404, 429),
        },
        examples=[
            OpenApiExample(
                "Stored", response_only=True, status_codes=[201], value=[ATTACHMENT_EXAMPLE]
            )
        ],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = get_ticket(request, reference)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachments = ticket_attachments_upload(
            ticket=ticket,
            actor=request.user,
            uploads=request.FILES.getlist("file"),
            is_public=not serializer.validated_data["internal"],
        )
        return Response(
            AttachmentOutputSerializer(attachments, many=True).data, status=status.HTTP_201_CREATED
        )


# ---------------------------------------------------------------------------
# The current user
# ---------------------------------------------------------------------------


class MeApi(APIView):
    token_scopes = {"GET": TokenScope.READ}

    @extend_schema_serializer(component_name="Me")
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        full_name = serializers.CharField()
        email = serializers.EmailField(allow_blank=True)
        role = serializers.ChoiceField(choices=["customer", "agent", "manager"])
        tier = serializers.IntegerField(allow_null=True, min_value=1, max_value=4)
        auth = serializers.ChoiceField(choices=["session", "token"])

    @extend_schema(
        operation_id="me_retrieve",
        tags=["me"],
        summary="Who am I",
        description="The authenticated user, their role and (for agents) their tier.",
        responses={200: OutputSerializer, **error_responses(401, 429)},
        examples=[
            OpenApiExample(
                "Agent",
                response_only=True,
                value={
                    "username": "agent1",
                    "full_name": "Alex Frontline",
                    "email": "agent1@tierdesk.local",
                    "role": "agent",
                    "tier": 1,
                    "auth": "token",
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        user = request.user
        profile = agent_profile_of(user)
        role = "manager" if user_is_manager(user) else "agent" if profile else "customer"
        data = {
            "username": user.get_username(),
            "full_name": user.get_full_name(),
            "email": user.email,
            "role": role,
            "tier": profile.tier if profile else None,
            "auth": "session" if request.auth is None else "token",
        }
        return Response(self.OutputSerializer(data).data)
