"""Reads of the e-mail channel: who a sender is, which ticket a thread names, and
the quarantine list the managers see."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from tickets.models import Category, Ticket
from tiers.models import TierLevel, VendorContact, VendorHandoff
from tiers.selectors import agent_profile_of

from .models import InboundMessage, QuarantinedMessage

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

REFERENCE_IN_SUBJECT = re.compile(r"\[(TD-\d{6,})\]")


def staff_user_by_email(email: str) -> AbstractBaseUser | None:
    """The active staff member (an agent or a manager) who has this address, if
    exactly one has it: an ambiguous address identifies nobody."""
    users = list(
        get_user_model().objects.filter(
            email__iexact=email, is_active=True, agent_profile__isnull=False
        )[:2]
    )
    if len(users) != 1 or agent_profile_of(users[0]) is None:
        return None
    return users[0]


def customer_user_by_email(email: str) -> AbstractBaseUser | None:
    """The customer account whose address is *verified* as this one (so mail from an
    address does not attach tickets to an account that merely claims it)."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            email_verification__email__iexact=email,
            email_verification__verified_at__isnull=False,
            agent_profile__isnull=True,
        )
        .first()
    )


def ticket_by_id(pk: int) -> Ticket | None:
    return Ticket.objects.select_related("category").filter(pk=pk).first()


def ticket_by_subject(subject: str) -> Ticket | None:
    match = REFERENCE_IN_SUBJECT.search(subject or "")
    if not match:
        return None
    return Ticket.objects.select_related("category").filter(reference=match.group(1)).first()


def ticket_by_inbound_ids(message_ids: list[str]) -> Ticket | None:
    """The ticket an earlier message of this thread (one we took in) went to."""
    if not message_ids:
        return None
    row = (
        InboundMessage.objects.filter(message_id__in=message_ids[:50], ticket__isnull=False)
        .select_related("ticket", "ticket__category")
        .order_by("-processed_at")
        .first()
    )
    return row.ticket if row else None


def is_vendor_address(email: str) -> bool:
    return VendorContact.objects.filter(email__iexact=email).exists()


def handoff_by_id(pk: int) -> VendorHandoff | None:
    return VendorHandoff.objects.select_related("vendor", "ticket").filter(pk=pk).first()


def category_for_new_mail(recipients: list[str]) -> Category | None:
    """The category of the address the message was sent to, else the default one,
    else the first active Tier 1 category."""
    active = Category.objects.filter(is_active=True)
    by_address = {k.lower(): v for k, v in settings.EMAIL_CATEGORY_ADDRESSES.items()}
    for address in recipients:
        slug = by_address.get(address)
        if slug:
            found = active.filter(slug=slug).first()
            if found is not None:
                return found
    if settings.EMAIL_DEFAULT_CATEGORY:
        found = active.filter(slug=settings.EMAIL_DEFAULT_CATEGORY).first()
        if found is not None:
            return found
    return active.filter(entry_tier=TierLevel.FRONTLINE).order_by("sort_order", "name").first()


def quarantine_list(*, include_released: bool = False) -> QuerySet[QuarantinedMessage]:
    rows = QuarantinedMessage.objects.all()
    if not include_released:
        rows = rows.filter(released_at__isnull=True)
    return rows.order_by("-created_at", "-id")


def inbound_recent(*, limit: int = 50) -> QuerySet[InboundMessage]:
    return InboundMessage.objects.select_related("ticket").order_by("-processed_at")[:limit]
