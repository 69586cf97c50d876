from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from helpdesk.exceptions import DomainError
from tiers.admin import ManagerViewable

from .models import ApiToken, Webhook, WebhookDelivery, WebhookEventType
from .services import webhook_redeliver, webhook_url_check


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        # "trigger.fired" goes only to the webhook an automation rule names.
        choices=[c for c in WebhookEventType.choices if c[0] != WebhookEventType.TRIGGER_FIRED],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "events", "is_active", "secret"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        try:
            webhook_url_check(url=url)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return url


class DeliveryInline(ManagerViewable, admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ["-created_at", "-id"]
    fields = [
        "created_at",
        "event_type",
        "attempt",
        "status_code",
        "succeeded",
        "will_retry",
        "error",
    ]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        # The newest attempts only: the full log is under "Webhook deliveries".
        qs = super().get_queryset(request)
        ids = list(qs.order_by("-created_at", "-id").values_list("id", flat=True)[:20])
        return qs.filter(id__in=ids)


@admin.register(Webhook)
class WebhookAdmin(ManagerViewable, admin.ModelAdmin):
    form = WebhookForm
    list_display = ["name", "url", "event_list", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]

    def get_inlines(self, request, obj):
        # A new webhook has no deliveries yet.
        return [DeliveryInline] if obj is not None else []

    @admin.display(description="Events")
    def event_list(self, obj: Webhook) -> str:
        return ", ".join(obj.events or [])

    def has_add_permission(self, request) -> bool:
        return self._manager(request) or super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._manager(request) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._manager(request) or super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ManagerViewable, admin.ModelAdmin):
    list_display = [
        "created_at", "webhook", "event_type", "attempt", "status_code", "succeeded",
        "will_retry", "duration_ms",
    ]  # fmt: skip
    list_filter = ["succeeded", "event_type", "webhook"]
    search_fields = ["delivery_id", "payload__ticket__reference"]
    list_select_related = ["webhook"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["deliver_again"]

    @admin.action(description="Deliver the selected events again", permissions=["deliver_again"])
    def deliver_again(self, request, queryset):
        try:
            count = webhook_redeliver(deliveries=list(queryset))
        except Exception as exc:  # the broker is down: say so instead of a 500 page
            self.message_user(request, f"Could not queue deliveries: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Queued {count} new deliveries.", messages.SUCCESS)

    def has_deliver_again_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Administrators can see and revoke tokens, never read a secret (only hashes exist)."""

    list_display = [
        "name",
        "user",
        "prefix",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    # Scopes are chosen by the token's owner at creation: shown, never widened here.
    readonly_fields = [
        "user", "name", "prefix", "scope_list", "key_hash", "created_at", "last_used_at",
    ]  # fmt: skip
    fields = [*readonly_fields, "expires_at", "revoked_at"]

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scope_labels) or "none"

    def has_add_permission(self, request) -> bool:
        return False
