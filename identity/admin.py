from django.contrib import admin

from .models import ExternalIdentity


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """Read-only: links are made by logins and the directory sync, never by hand."""

    list_display = (
        "user",
        "source",
        "provider",
        "username",
        "role",
        "last_login_at",
        "deprovisioned_at",
    )
    list_filter = ("source", "provider", "role")
    search_fields = ("user__username", "username", "email", "subject")
    list_select_related = ("user",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
