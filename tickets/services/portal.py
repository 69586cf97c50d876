"""What a customer does through the portal: submit (with attachments and the KB
articles they were shown), reply, confirm or reopen, rate, ask for escalation, and
own an account whose verified e-mail collects their tickets.

Every function writes in one transaction; a refused upload or a refused action
leaves nothing behind. Ticket state still changes only through ``core`` or here,
each change with its ``TicketEvent``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import ratelimit
from helpdesk.exceptions import DomainError

from ..models import (
    Attachment,
    Category,
    Deflection,
    EmailVerification,
    SatisfactionRating,
    Ticket,
    TicketEvent,
)
from ..selectors import next_update_due
from . import core
from .attachments import attachment_add, validate_uploads
from .events import tickets_update
from .notify import send_templated_mail

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from knowledgebase.models import Article

    User = AbstractBaseUser

Kind = TicketEvent.Kind
Status = Ticket.Status

#: How often a customer may ask for escalation of one ticket.
ESCALATION_REQUEST_INTERVAL = timedelta(hours=24)
logger = logging.getLogger(__name__)

VERIFY_SALT = "tierdesk.customer-email-verify"
VERIFY_MAX_AGE = timedelta(days=3)


class PortalError(DomainError):
    pass


@contextmanager
def _delete_files_on_error(stored: list[Attachment]) -> Iterator[None]:
    """The transaction undoes the rows; this undoes the files already written to
    storage, so a failed submission leaves no orphan upload behind either."""
    try:
        yield
    except BaseException:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise


def _display_name(user: User | None, fallback: str) -> str:
    if user is None:
        return fallback
    return user.get_full_name() or user.get_username()


# ---------------------------------------------------------------------------
# Deflection log (the KB articles suggested while the form was being filled in)
# ---------------------------------------------------------------------------


def deflection_record_shown(*, session_key: str, articles: Sequence[Article]) -> None:
    """One row per (form session, article) shown; showing it again changes nothing."""
    if not session_key or not articles:
        return
    Deflection.objects.bulk_create(
        [Deflection(session_key=session_key, article=a) for a in articles],
        ignore_conflicts=True,
    )


def deflection_record_opened(*, session_key: str, article: Article) -> None:
    """The customer opened a suggested article. A session with an opened article and
    no ticket is a deflected ticket (the dashboards count those)."""
    if not session_key:
        return
    now = timezone.now()
    with transaction.atomic():
        row, created = Deflection.objects.get_or_create(
            session_key=session_key, article=article, defaults={"opened_at": now}
        )
        if not created and row.opened_at is None:
            Deflection.objects.filter(pk=row.pk, opened_at__isnull=True).update(opened_at=now)


# ---------------------------------------------------------------------------
# Submission
# ---------------------------------------------------------------------------


@transaction.atomic
def ticket_submit(
    *,
    category: Category,
    subject: str,
    description: str,
    requester_name: str,
    requester_email: str,
    requester: User | None = None,
    urgency: str | None = None,
    impact: str | None = None,
    uploads: Sequence[UploadedFile] = (),
    submission_key: str | None = None,
    kb_shown: bool = True,
) -> Ticket:
    """Create a ticket from the portal form with its attachments, atomically.

    Uploads are validated before anything is written; a refused file raises
    ``AttachmentError`` and no ticket exists. A resubmitted form (same
    ``submission_key``, same e-mail) returns the first ticket and adds nothing. The
    KB articles suggested while typing are linked to the ticket, and those the
    customer opened are listed in an internal note so Tier 1 knows what did not help.
    """
    email = requester_email.strip().lower()
    checked = validate_uploads(list(uploads))
    # Deflections are logged under the form's key while suggestions are shown; the
    # form says whether any were (``kb_shown``), which spares every other submission
    # the lookup. A form that hides it only loses its own deflection statistics.
    shown = list(
        Deflection.objects.filter(session_key=submission_key, ticket__isnull=True)
        .select_related("article")
        .order_by("shown_at", "id")
        if submission_key and kb_shown
        else []
    )
    opened = [d.article for d in shown if d.opened_at is not None]
    ticket, created = core.ticket_create_or_get(
        category=category,
        subject=subject,
        description=description,
        requester=requester,
        requester_name=requester_name,
        requester_email=email,
        priority=core.priority_from(category=category, urgency=urgency, impact=impact),
        submission_key=submission_key,
        via="web",
        data={
            "urgency": urgency,
            "impact": impact,
            "kb_shown": [d.article.slug for d in shown],
            "kb_opened": [a.slug for a in opened],
        },
    )
    if not created:
        # The key is only in the submitter's page; a key with another address is
        # not a resubmission, and must not reveal that ticket's tracking link.
        if ticket.requester_email != email:
            raise PortalError(_("This form was already used. Reload the page and try again."))
        return ticket  # a resubmitted form: the first ticket, nothing added
    # Attachments hang off the "created" event; without files it is not read at all.
    created_event = ticket.events.filter(kind=Kind.CREATED).first() if checked else None
    stored: list[Attachment] = []
    with _delete_files_on_error(stored):
        for upload, name, content_type in checked:
            stored.append(
                attachment_add(
                    ticket=ticket,
                    upload=upload,
                    event=created_event,
                    uploaded_by=requester,
                    uploaded_by_name=ticket.requester_name,
                    checked=(name, content_type),
                )
            )
        if shown:
            Deflection.objects.filter(pk__in=[d.pk for d in shown]).update(ticket=ticket)
        if opened:
            lines = "\n".join(f"- [{a.title}]({a.get_absolute_url()})" for a in opened)
            core.ticket_event_create(
                ticket=ticket,
                kind=Kind.NOTE,
                actor_name="system",
                body=_("The customer read these suggested articles and still submitted:")
                + "\n\n"
                + lines,
                data={"kb_opened": [a.slug for a in opened]},
            )
    return ticket


def ticket_open(
    *,
    user: User,
    staff: bool,
    category: Category,
    subject: str,
    description: str,
    urgency: str | None = None,
    impact: str | None = None,
    priority: str | None = None,
    requester_name: str | None = None,
    requester_email: str | None = None,
    idempotency_key: str = "",
) -> tuple[Ticket, bool]:
    """A ticket opened through the API, under the form's rules: the priority follows
    from urgency and impact unless staff set it, only staff open one for someone else,
    and an ``idempotency_key`` (scoped to the caller, so one user's key never returns
    another's ticket) makes a retry return the first ticket (``created`` False)."""
    submission_key = None
    if idempotency_key:
        if len(idempotency_key) > 64 or not idempotency_key.isprintable():
            raise DomainError(
                _("Idempotency-Key: at most 64 printable characters."), field="Idempotency-Key"
            )
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        submission_key = f"api:{user.pk}:{digest}"
    if not (staff and priority):
        priority = core.priority_from(category=category, urgency=urgency, impact=impact)
    on_behalf = staff and (requester_email or requester_name)
    return core.ticket_create_or_get(
        category=category,
        subject=subject,
        description=description,
        requester=None if on_behalf else user,
        requester_name=(requester_name if on_behalf else None) or _display_name(user, ""),
        requester_email=(requester_email if on_behalf else None) or user.email,
        priority=priority,
        submission_key=submission_key,
        via="api",
    )


# ---------------------------------------------------------------------------
# On the tracking page
# ---------------------------------------------------------------------------


@transaction.atomic
def ticket_customer_reply_with_files(
    *,
    ticket: Ticket,
    body: str,
    uploads: Sequence[UploadedFile] = (),
    actor: User | None = None,
) -> TicketEvent:
    """A customer reply with optional attachments: validated first, then written
    together (a waiting ticket resumes, a resolved one reopens: see ``core``)."""
    checked = validate_uploads(list(uploads))
    event = core.ticket_customer_reply(
        ticket=ticket, body=body, actor=actor, author_name=_display_name(actor, "")
    )
    stored: list[Attachment] = []
    with _delete_files_on_error(stored):
        for upload, name, content_type in checked:
            stored.append(
                attachment_add(
                    ticket=ticket,
                    upload=upload,
                    event=event,
                    uploaded_by=actor,
                    uploaded_by_name=event.actor_name,
                    checked=(name, content_type),
                )
            )
    return event


@transaction.atomic
def ticket_customer_resolve(*, ticket: Ticket, actor: User | None = None) -> Ticket:
    """ "This solved my problem". An open ticket becomes resolved (the customer is asked
    to rate); a resolved one is confirmed and closed."""
    ticket = core.ticket_lock(ticket)
    if ticket.status == Status.RESOLVED:
        return core.ticket_close(
            ticket=ticket, actor=actor, reason=_("The customer confirmed the problem is solved.")
        )
    if ticket.status == Status.CLOSED:
        raise PortalError(_("%(ref)s is already closed.") % {"ref": ticket.reference})
    # Nobody on staff solved it: no agent is credited, and it is not a first-contact
    # resolution by Tier 1.
    core._resolve(
        ticket,
        resolution=_("The customer confirmed the problem is solved."),
        resolved_by=None,
        first_contact=False,
        now=timezone.now(),
        fields=[],
    )
    core.ticket_event_create(
        ticket=ticket,
        kind=Kind.RESOLVED,
        actor=actor,
        actor_name=_display_name(actor, ticket.requester_name),
        body=ticket.resolution,
        is_public=True,
        data={"tier": ticket.tier, "by_customer": True, "first_contact": False},
        notify=True,
    )
    return ticket


def ticket_customer_reopen(
    *, ticket: Ticket, actor: User | None = None, reason: str = ""
) -> Ticket:
    """ "Reopen": a resolved ticket goes back to work with a fresh budget (``core``)."""
    reason = (reason or "").strip() or _("The customer says the problem is not solved.")
    return core.ticket_reopen(ticket=ticket, actor=actor, reason=reason)


def csat_pending(ticket: Ticket) -> bool:
    """Whether the customer may rate the current resolution now."""
    if ticket.status not in Ticket.DONE_STATUSES:
        return False
    return not SatisfactionRating.objects.filter(
        ticket=ticket, resolution_round=ticket.reopen_count
    ).exists()


@transaction.atomic
def csat_submit(
    *, ticket: Ticket, rating: int, comment: str = "", actor: User | None = None
) -> SatisfactionRating:
    """Rate the current resolution 1–5, once per resolution (a reopened and resolved
    again ticket may be rated again)."""
    ticket = core.ticket_lock(ticket)
    if ticket.status not in Ticket.DONE_STATUSES:
        raise PortalError(_("You can rate our help once your ticket is resolved."))
    if rating not in range(1, 6):
        raise PortalError(_("Choose a rating from 1 to 5."), field="rating")
    comment = (comment or "").replace("\x00", "").strip()
    try:
        with transaction.atomic():
            result = SatisfactionRating.objects.create(
                ticket=ticket,
                resolution_round=ticket.reopen_count,
                rating=rating,
                comment=comment,
                resolved_tier=ticket.resolved_tier,
                resolved_by=ticket.resolved_by,
            )
    except IntegrityError as exc:
        raise PortalError(_("You have already rated this resolution. Thank you!")) from exc
    core.ticket_event_create(
        ticket=ticket,
        kind=Kind.CSAT,
        actor=actor,
        actor_name=_display_name(actor, ticket.requester_name),
        body=comment,
        is_public=True,
        data={"rating": rating, "round": ticket.reopen_count},
    )
    return result


def ticket_is_overdue(ticket: Ticket, *, now: datetime | None = None) -> bool:
    """Late in the customer's eyes: the promised update time has passed."""
    due = next_update_due(ticket)
    return ticket.sla_breached_at is not None or (
        due is not None and due <= (now or timezone.now())
    )


def escalation_request_last(ticket: Ticket) -> TicketEvent | None:
    return (
        ticket.events.filter(kind=Kind.ESCALATION_REQUESTED)
        .only("created_at", "ticket_id")
        .order_by("-created_at")
        .first()
    )


@transaction.atomic
def escalation_request(
    *, ticket: Ticket, reason: str, urgent: bool = False, actor: User | None = None
) -> TicketEvent:
    """A customer asks for escalation: allowed when the ticket is overdue or the matter
    became urgent, once per ticket per day, with a reason. It tells the current tier
    and the managers (event with ``notify``); it never moves the tier itself."""
    ticket = core.ticket_lock(ticket)  # serialises two clicks: the second sees the first
    if ticket.status not in Ticket.ACTIVE_STATUSES:
        raise PortalError(_("Only a ticket that is still open can be escalated."))
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise PortalError(_("Tell us why this needs more attention."), field="reason")
    now = timezone.now()
    last = escalation_request_last(ticket)
    if last is not None and last.created_at > now - ESCALATION_REQUEST_INTERVAL:
        raise PortalError(
            _(
                "You already asked for escalation on %(when)s. The team has been told; "
                "you can ask again 24 hours after that."
            )
            % {"when": timezone.localtime(last.created_at).strftime("%Y-%m-%d %H:%M")}
        )
    overdue = ticket_is_overdue(ticket, now=now)
    if not overdue and not urgent:
        raise PortalError(
            _(
                "Your ticket is not overdue yet. If the matter has become urgent, tick "
                "“It has become urgent” and tell us why."
            ),
            field="urgent",
        )
    return core.ticket_event_create(
        ticket=ticket,
        kind=Kind.ESCALATION_REQUESTED,
        actor=actor,
        actor_name=_display_name(actor, ticket.requester_name),
        body=reason,
        is_public=True,
        data={"tier": ticket.tier, "overdue": overdue, "urgent": urgent},
        notify=True,
    )


# ---------------------------------------------------------------------------
# Customer accounts
# ---------------------------------------------------------------------------


def email_verification_token(*, user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=VERIFY_SALT, compress=True)


#: At most one "someone tried to sign up with your address" mail per address and hour:
#: the sign-up form must not become a way to flood someone's inbox.
SIGNUP_ATTEMPT_NOTICE_WINDOW = 3600


def account_mail_queue(*, kind: str, user_id: int) -> None:
    """After commit, queue one account e-mail (``verify`` or ``signup_attempt``) for
    the worker. Both kinds go the same way, so a sign-up answers in the same time
    whether or not the address already had an account. With the broker down the mail
    is sent from the request instead (lost mail would lock a customer out)."""
    from ..tasks import account_mail_send  # the tasks module imports services

    def queue() -> None:
        try:
            account_mail_send.delay(kind=kind, user_id=user_id)
        except Exception:
            logger.warning("could not queue %s mail for user %s; sending it now", kind, user_id)
            account_mail_deliver(kind=kind, user_id=user_id)

    transaction.on_commit(queue)


def account_mail_deliver(*, kind: str, user_id: int) -> bool:
    """Render and send one account e-mail (the task's work); ``False`` when the user is
    gone or inactive since."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return False
    if kind == "verify":
        token = email_verification_token(user=user)
        send_templated_mail(
            to=[user.email],
            subject=_("Confirm your e-mail address for the help desk"),
            template="account_verify",
            context={
                "name": _display_name(user, ""),
                "verify_url": settings.SITE_URL
                + reverse("account-verify", kwargs={"token": token}),
                "days": VERIFY_MAX_AGE.days,
            },
        )
    elif kind == "signup_attempt":
        send_templated_mail(
            to=[user.email],
            subject=_("Someone tried to create a help desk account with your address"),
            template="account_signup_attempt",
            context={
                "name": _display_name(user, ""),
                "login_url": settings.SITE_URL + reverse("login"),
                "reset_url": settings.SITE_URL + reverse("password_reset"),
            },
        )
    else:
        raise ValueError(f"unknown account mail {kind!r}")
    return True


def email_verification_send(*, user: User) -> None:
    """E-mail the signed verification link (after commit: no mail for a rolled-back
    sign-up)."""
    account_mail_queue(kind="verify", user_id=user.pk)


def _signup_attempt_notice(*, email: str, password: str) -> None:
    """The address already has an account: tell its owner (at most once an hour), and
    hash the password anyway so the answer takes as long as creating an account."""
    make_password(password)
    owner = (
        get_user_model().objects.filter(email__iexact=email, is_active=True).order_by("pk").first()
    )
    if owner is None:
        return
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    notice = ratelimit.hit(f"signup-attempt:{digest}", limit=1, window=SIGNUP_ATTEMPT_NOTICE_WINDOW)
    if notice.allowed:
        account_mail_queue(kind="signup_attempt", user_id=owner.pk)


@transaction.atomic
def account_signup(*, name: str, email: str, password: str) -> User | None:
    """Create a customer account (no staff rights) and send the verification link.

    The account works at once; its tickets from before (submitted anonymously with the
    same address) join it only when the address is verified. When the address already
    has an account, nothing is created and its owner is told by e-mail instead; the
    caller answers exactly as for a new account (``None`` here), so the form does not
    tell anyone which addresses have accounts."""
    email = email.strip().lower()
    UserModel = get_user_model()
    if UserModel.objects.filter(email__iexact=email).exists():
        _signup_attempt_notice(email=email, password=password)
        return None
    first, _sep, last = name.strip().partition(" ")
    try:
        with transaction.atomic():
            user = UserModel.objects.create_user(
                username=email[:150],
                email=email,
                password=password,
                first_name=first[:150],
                last_name=last[:150],
            )
    except IntegrityError:  # the same address signing up twice at once
        _signup_attempt_notice(email=email, password=password)
        return None
    EmailVerification.objects.create(user=user, email=email)
    email_verification_send(user=user)
    return user


def account_is_verified(user: User) -> bool:
    if user is None or not user.is_authenticated:
        return False
    record = EmailVerification.objects.filter(user=user).only("email", "verified_at").first()
    return bool(
        record
        and record.verified_at is not None
        and record.email.lower() == (user.email or "").lower()
    )


@transaction.atomic
def account_email_verify(*, token: str) -> tuple[User, int]:
    """Check the signed link; mark the address verified and attach the anonymous
    tickets submitted with it. Returns the user and how many tickets joined."""
    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise PortalError(_("This link has expired. Log in and ask for a new one.")) from exc
    except signing.BadSignature as exc:
        raise PortalError(_("This link is not valid. Check that you copied all of it.")) from exc
    UserModel = get_user_model()
    user = UserModel.objects.filter(pk=payload.get("u"), is_active=True).first()
    email = str(payload.get("e", "")).lower()
    if user is None or (user.email or "").lower() != email:
        # The address changed since the link was sent: the link proves nothing now.
        raise PortalError(_("This link is not valid any more. Log in and ask for a new one."))
    record, _created = EmailVerification.objects.select_for_update().get_or_create(
        user=user, defaults={"email": email}
    )
    if record.verified_at is None or record.email != email:
        record.email = email
        record.verified_at = timezone.now()
        record.save(update_fields=["email", "verified_at"])
    ids = Ticket.objects.filter(requester__isnull=True, requester_email=email).values("pk")
    attached = tickets_update(ids, requester=user)
    return user, attached
