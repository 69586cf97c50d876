"""The audit log of the manager pages, and each user's own preferences.

An audit entry keeps only names and JSON values, never foreign keys to what changed:
it outlives the rows it describes (a deleted holiday, a removed webhook)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tiers.models import validate_time_zone


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        ACTION = "action", _("Action")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: The actor's username when the entry was written: the log still names them
    #: after the account is deleted.
    actor_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    #: ``app_label.model`` of what changed (``tiers.agentprofile``).
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    #: ``{field: [before, after]}``; a creation has ``None`` befores, a deletion
    #: ``None`` afters.
    changes = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_created"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"


class UserPreference(models.Model):
    """Settings a user chooses for themselves (agents and customers alike)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_("Times are shown in this zone. Empty: the help desk's own zone."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} preferences"
