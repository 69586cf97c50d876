"""Links between local accounts and external identities (OIDC subjects, LDAP entries)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ExternalIdentity(models.Model):
    """One identity at one source, linked to one local account.

    An identity is found again by ``(source, provider, subject)`` — the OIDC ``sub``
    or the LDAP entry's DN — never by e-mail: e-mail matters only once, when a new
    identity is linked to an existing account (``identity.services``). A user with
    any linked identity is *managed*: its role and tier follow the source's groups.
    """

    class Source(models.TextChoices):
        OIDC = "oidc", _("OpenID Connect")
        LDAP = "ldap", _("LDAP directory")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    #: The OIDC provider's slug; "directory" for LDAP.
    provider = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    #: The LDAP login name (what the periodic sync looks up); the OIDC preferred name.
    username = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    groups = models.JSONField(default=list, blank=True)
    #: The role/tier last applied from the source's groups ("agent:2", "customer").
    role = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    #: Set when the source dropped the person and the account was switched off by
    #: Tierdesk (not by an administrator): a later login through the source may revive it.
    deprovisioned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")
        ordering = ["source", "provider", "subject"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "provider", "subject"], name="external_identity_unique"
            )
        ]
        indexes = [models.Index(fields=["source", "deprovisioned_at"], name="extid_source_active")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.username or self.subject} → {self.user_id}"
