from django.contrib import admin, messages

from helpdesk.exceptions import DomainError

from .models import (
    AgentProfile,
    BusinessCalendar,
    EscalationPolicy,
    Holiday,
    SLAPolicy,
    VendorContact,
    VendorHandoff,
    WorkingHours,
)
from .selectors import user_is_manager


class ManagerViewable:
    """Help-desk managers (staff with a manager profile) see these admin pages without
    Django model permissions being granted one by one; everyone else keeps Django's
    permissions. Also used by ``integrations.admin`` (webhooks)."""

    def _manager(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and user_is_manager(request.user)

    def has_module_permission(self, request) -> bool:
        return self._manager(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._manager(request) or super().has_view_permission(request, obj)


class ManagerEditable(ManagerViewable):
    """Managers also run the escalation setup: add, change and delete."""

    def has_change_permission(self, request, obj=None) -> bool:
        return self._manager(request) or super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return self._manager(request) or super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._manager(request) or super().has_delete_permission(request, obj)


class WorkingHoursInline(ManagerEditable, admin.TabularInline):
    model = WorkingHours
    extra = 0


class HolidayInline(ManagerEditable, admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(ManagerEditable, admin.ModelAdmin):
    list_display = ["name", "time_zone", "is_24x7", "is_default"]
    inlines = [WorkingHoursInline, HolidayInline]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ManagerEditable, admin.ModelAdmin):
    list_display = ["tier", "priority", "budget", "warn_at_percent", "calendar"]
    list_filter = ["tier", "priority"]
    list_editable = ["budget", "warn_at_percent"]


@admin.register(SLAPolicy)
class SLAPolicyAdmin(ManagerEditable, admin.ModelAdmin):
    list_display = ["priority", "first_response", "resolution", "calendar"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "tier", "is_manager", "is_active"]
    list_filter = ["tier", "is_manager", "is_active"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(VendorContact)
class VendorContactAdmin(ManagerEditable, admin.ModelAdmin):
    list_display = ["company", "name", "email", "response_target", "is_active"]
    filter_horizontal = ["categories"]


@admin.register(VendorHandoff)
class VendorHandoffAdmin(ManagerEditable, admin.ModelAdmin):
    list_display = [
        "ticket",
        "vendor",
        "owner",
        "created_at",
        "first_response_at",
        "done_at",
        "revoked_at",
    ]
    list_select_related = ["ticket", "vendor", "owner"]
    raw_id_fields = ["ticket", "owner"]
    readonly_fields = ["nonce", "response_time", "resolution_time"]
    actions = ["revoke_link"]

    @admin.action(description="Revoke link")
    def revoke_link(self, request, queryset):
        from .services import vendor_handoff_revoke  # services import the tickets app

        revoked = 0
        for handoff in queryset.select_related("ticket", "vendor").filter(revoked_at__isnull=True):
            try:
                vendor_handoff_revoke(handoff=handoff, actor=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                revoked += 1
        self.message_user(request, f"{revoked} vendor link(s) revoked.", messages.SUCCESS)
