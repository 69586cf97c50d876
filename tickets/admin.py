from django.contrib import admin

from .models import (
    Attachment,
    CannedResponse,
    Category,
    EmailVerification,
    Notification,
    SatisfactionRating,
    Ticket,
    TicketAccessGrant,
    TicketEvent,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "entry_tier", "default_priority", "is_active", "sort_order"]
    list_filter = ["entry_tier", "is_active"]
    prepopulated_fields = {"slug": ["name"]}


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "actor_name", "is_public", "body"]
    readonly_fields = fields
    raw_id_fields = ["actor"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the timeline is written by services only


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-mostly: status, tier and assignee change through the agent workspace so
    that every change is an event."""

    list_display = [
        "reference",
        "subject",
        "tier",
        "status",
        "priority",
        "assignee",
        "escalate_at",
        "created_at",
    ]
    list_filter = ["tier", "status", "priority", "category"]
    list_select_related = ["assignee", "category"]
    search_fields = ["reference", "subject", "requester_email"]
    show_full_result_count = False  # COUNT(*) over a million rows on every page is waste
    raw_id_fields = [
        "requester",
        "assignee",
        "owner",
        "resolved_by",
        "resolved_article",
        "merged_into",
    ]
    readonly_fields = [
        "reference", "tier", "status", "assignee", "escalate_at", "escalation_warn_at",
        "tier_entered_at", "tier_budget", "resolved_at", "closed_at",
    ]  # fmt: skip
    inlines = [TicketEventInline]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "tier", "is_active"]
    list_filter = ["tier", "is_active"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "ticket", "content_type", "size", "created_at"]
    raw_id_fields = ["ticket", "event", "uploaded_by"]


@admin.register(SatisfactionRating)
class SatisfactionRatingAdmin(admin.ModelAdmin):
    list_display = ["ticket", "rating", "created_at"]
    raw_id_fields = ["ticket", "resolved_by"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "text", "created_at", "read_at"]
    raw_id_fields = ["user", "ticket", "event"]


@admin.register(TicketAccessGrant)
class TicketAccessGrantAdmin(admin.ModelAdmin):
    """Grants are made on the agent ticket page (so the timeline records them); here
    managers review and revoke them (delete)."""

    list_display = ["ticket", "user", "granted_by", "reason", "created_at"]
    list_select_related = ["ticket", "user", "granted_by"]
    raw_id_fields = ["ticket", "user", "granted_by"]
    readonly_fields = ["ticket", "user", "granted_by", "reason", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(EmailVerification)
class EmailVerificationAdmin(admin.ModelAdmin):
    list_display = ["user", "email", "verified_at", "created_at"]
    list_filter = ["verified_at"]
    search_fields = ["email", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["verified_at", "created_at"]
