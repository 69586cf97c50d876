"""Signed vendor links: ``/vendor/<token>/``.

The token is ``django.core.signing`` (HMAC with SECRET_KEY and a salt of its own)
over the hand-off id and its nonce, with a timestamp. A link stops working when

* the signature is older than ``VENDOR_LINK_MAX_AGE_DAYS`` or past the hand-off's
  ``expires_at`` (expired),
* the hand-off has ``revoked_at`` (revoked), or
* anything in it was changed (tampered: bad signature or a nonce that does not match).

The nonce is unique per hand-off, so a new hand-off never reuses an old link.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import VendorHandoff

SALT = "tierdesk.tiers.vendor-link.v1"
#: Longest token we bother to verify; real ones are ~110 characters.
MAX_TOKEN_LENGTH = 400


class VendorLinkError(Exception):
    """The link cannot be used. ``reason`` is one of expired, revoked, invalid."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)

    @property
    def message(self) -> str:
        return {
            "expired": _("This vendor link has expired."),
            "revoked": _("This vendor link has been revoked."),
        }.get(self.reason, _("This vendor link is not valid."))


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def vendor_link_token(handoff: VendorHandoff) -> str:
    return signing.dumps({"h": handoff.pk, "n": handoff.nonce}, salt=SALT)


def vendor_link_path(handoff: VendorHandoff) -> str:
    from django.urls import reverse

    return reverse("tiers:vendor", kwargs={"token": vendor_link_token(handoff)})


def handoff_from_token(token: str) -> VendorHandoff:
    """The hand-off a link points to, or ``VendorLinkError``."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise VendorLinkError("invalid")
    max_age = timedelta(days=settings.VENDOR_LINK_MAX_AGE_DAYS)
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise VendorLinkError("expired") from exc
    except signing.BadSignature as exc:
        raise VendorLinkError("invalid") from exc
    if not isinstance(payload, dict):
        raise VendorLinkError("invalid")
    handoff_id, nonce = payload.get("h"), payload.get("n")
    if not isinstance(handoff_id, int) or not isinstance(nonce, str):
        raise VendorLinkError("invalid")
    handoff = (
        VendorHandoff.objects.select_related("vendor", "ticket", "ticket__category", "owner")
        .filter(pk=handoff_id)
        .first()
    )
    # Constant-time comparison: the nonce is the part an attacker would have to guess.
    if handoff is None or not secrets.compare_digest(handoff.nonce, nonce):
        raise VendorLinkError("invalid")
    if handoff.revoked_at is not None:
        raise VendorLinkError("revoked")
    if handoff.expires_at <= timezone.now():
        raise VendorLinkError("expired")
    return handoff
