"""Which ticket a message belongs to, who is writing, and the write itself — always
through the ticket services (portal reply, agent reply or note, vendor update, a new
ticket), never by writing events here.

Threading, in order (``docs`` in the README, "E-mail channel"):

1. A signed token (``helpdesk.mailthread``) in ``In-Reply-To``/``References`` (our
   Message-IDs carry it), then in a recipient address (``support+<token>@…``). The
   token's audience says who may write: the customer thread (``c``), the staff
   thread (``s``, the sender must be an agent who may act on the ticket), the
   vendor hand-off (``v``).
2. An earlier message of ours in the thread (the customer's own first mail), or
   ``[TD-000123]`` in the subject — only when the sender is the ticket's requester
   (or the hand-off's vendor), and, with ``EMAIL_AUTHSERV_ID`` set, only when the
   receiving MTA vouches for the From (DMARC). Staff never post without a token.
3. Anything else opens a new ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext as _

from helpdesk import mailthread
from helpdesk.exceptions import DomainError, ForbiddenError
from tickets.models import Ticket
from tickets.selectors import user_can_act_on
from tickets.services import core
from tickets.services.attachments import AttachmentError, attachment_add, validate_upload
from tickets.services.uploads import ticket_attachments_upload
from tiers.services import vendor_handoff_for_reply, vendor_post_update

from . import selectors
from .models import InboundMessage
from .parse import ParsedMail, strip_subject_prefixes

Outcome = InboundMessage.Outcome
#: A line of its own that makes an agent's e-mailed reply an internal note.
NOTE_LINE = re.compile(r"^[ \t]*#note[ \t]*$", re.IGNORECASE | re.MULTILINE)
MAX_BODY = 20000


class NoCategory(DomainError):
    pass


@dataclass(frozen=True)
class Written:
    outcome: str
    ticket: Ticket
    event_id: int | None
    detail: str = ""


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------


def _tokens(parsed: ParsedMail) -> list[mailthread.ThreadToken]:
    found: list[mailthread.ThreadToken] = []
    for source in [*parsed.thread_ids, *parsed.recipients]:
        for token in mailthread.tokens_in(source):
            if token not in found:
                found.append(token)
    return found


def ticket_of_thread(parsed: ParsedMail) -> Ticket | None:
    """The ticket an automatic message (out-of-office, bounce) is about, to record it
    there; it is never posted."""
    for text in [*parsed.bounced_ids, *parsed.thread_ids, *parsed.recipients]:
        for token in mailthread.tokens_in(text):
            if token.audience == "v":
                handoff = selectors.handoff_by_id(token.object_id)
                if handoff is not None:
                    return handoff.ticket
            else:
                ticket = selectors.ticket_by_id(token.object_id)
                if ticket is not None:
                    return ticket
    return selectors.ticket_by_inbound_ids([*parsed.bounced_ids, *parsed.thread_ids])


def sender_verified(parsed: ParsedMail) -> bool:
    """Whether the From may be believed without a token: always when no trusted
    MTA is configured; else that MTA's Authentication-Results must pass DMARC (or
    DKIM/SPF for the From's own domain)."""
    authserv = settings.EMAIL_AUTHSERV_ID.strip().lower()
    if not authserv:
        return True
    domain = parsed.sender.rpartition("@")[2]
    for header in parsed.auth_results:
        head, _sep, results = header.partition(";")
        if head.strip().lower().split()[:1] != [authserv]:
            continue  # another hop's claim: anyone can add such a header
        results = results.lower()
        if re.search(r"\bdmarc=pass\b", results):
            return True
        for method, prop in (("dkim", "header.d"), ("spf", "smtp.mailfrom")):
            for match in re.finditer(
                rf"\b{method}=pass\b[^;]*?\b{re.escape(prop)}=([^\s;]+)", results
            ):
                value = match.group(1).rpartition("@")[2]
                if value == domain:
                    return True
    return False


# ---------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------


def _files(parsed: ParsedMail) -> tuple[list[tuple[Any, str, str]], list[str]]:
    """The message's files through the portal's upload checks: (accepted, refusals)."""
    accepted: list[tuple[Any, str, str]] = []
    refused: list[str] = []
    for mail_file in parsed.files:
        upload = SimpleUploadedFile(mail_file.name, mail_file.data, mail_file.content_type)
        if len(accepted) >= settings.ATTACHMENT_MAX_FILES:
            refused.append(
                _("%(name)s: at most %(n)s files are kept.")
                % {"name": upload.name, "n": settings.ATTACHMENT_MAX_FILES}
            )
            continue
        try:
            accepted.append((upload, *validate_upload(upload)))
        except AttachmentError as exc:
            refused.append(str(exc))
    return accepted, refused


def _body(text: str, refused: list[str], *, has_files: bool) -> str:
    text = text.strip()
    if not text and has_files:
        text = _("(files only)")
    if refused:
        text += "\n\n" + _("Not attached:") + "\n" + "\n".join(f"- {r}" for r in refused)
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - 40].rstrip() + "\n\n" + _("[cut: the message was longer]")
    return text


def _author(parsed: ParsedMail) -> str:
    return (parsed.sender_name or parsed.sender)[:120]


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def write(parsed: ParsedMail) -> Written:
    """Post the message where it belongs. Raises ``DomainError`` when it may not be
    posted (the caller quarantines it with the message)."""
    for token in _tokens(parsed):
        if token.audience == "c":
            ticket = selectors.ticket_by_id(token.object_id)
            if ticket is not None:
                return _customer_reply(parsed, ticket)
        elif token.audience == "s":
            ticket = selectors.ticket_by_id(token.object_id)
            if ticket is not None:
                return _staff_reply(parsed, ticket)
        else:
            handoff = selectors.handoff_by_id(token.object_id)
            if handoff is not None:
                return _vendor_update(parsed, handoff)

    verified = sender_verified(parsed)
    ticket = selectors.ticket_by_inbound_ids(parsed.thread_ids) or selectors.ticket_by_subject(
        parsed.subject
    )
    if ticket is not None and verified and parsed.sender == ticket.requester_email.lower():
        return _customer_reply(parsed, ticket)
    if verified and selectors.is_vendor_address(parsed.sender):
        # Our reference, or the vendor's own ticket number, in the subject.
        handoff = vendor_handoff_for_reply(subject=parsed.subject, sender=parsed.sender)
        if handoff is not None and (ticket is None or handoff.ticket_id == ticket.pk):
            return _vendor_update(parsed, handoff)
    if ticket is not None and selectors.staff_user_by_email(parsed.sender) is not None:
        raise ForbiddenError(
            _("Staff replies by e-mail need the signed reply address of a notification.")
        )
    return _new_ticket(parsed, follows=None)


def _customer_reply(parsed: ParsedMail, ticket: Ticket) -> Written:
    """The requester's reply, or a participant's (a colleague in copy, a forwarded
    notification: the token is the permission), under the writer's own name."""
    if ticket.status == Ticket.Status.CLOSED:
        return _new_ticket(parsed, follows=ticket)
    accepted, refused = _files(parsed)
    is_requester = parsed.sender == ticket.requester_email.lower()
    requester = ticket.requester if is_requester else None
    author = ticket.requester_name if is_requester else _author(parsed)
    event = core.ticket_customer_reply(
        ticket=ticket,
        body=_body(parsed.reply, refused, has_files=bool(accepted)),
        actor=requester,
        author_name=author,
    )
    for upload, name, content_type in accepted:
        attachment_add(
            ticket=ticket,
            upload=upload,
            event=event,
            uploaded_by=requester,
            uploaded_by_name=author,
            checked=(name, content_type),
        )
    detail = "" if is_requester else _("from %(sender)s, a participant") % {"sender": parsed.sender}
    return Written(Outcome.CUSTOMER_REPLY, ticket, event.pk, detail)


def _staff_reply(parsed: ParsedMail, ticket: Ticket) -> Written:
    agent = selectors.staff_user_by_email(parsed.sender)
    if agent is None:
        if parsed.sender == ticket.requester_email.lower():
            return _customer_reply(parsed, ticket)  # a notification forwarded to them
        raise ForbiddenError(
            _("%(sender)s is not a help-desk agent: replies to staff mail come from agents.")
            % {"sender": parsed.sender}
        )
    if not user_can_act_on(user=agent, ticket=ticket):
        raise ForbiddenError(
            _("%(user)s cannot act on %(ref)s (Tier %(tier)s).")
            % {"user": agent.get_username(), "ref": ticket.reference, "tier": ticket.tier}
        )
    text = parsed.reply
    is_note = bool(NOTE_LINE.search(text))
    text = NOTE_LINE.sub("", text).strip()
    accepted, refused = _files(parsed)
    body = _body(text, refused, has_files=bool(accepted))
    if is_note:
        event = core.ticket_add_note(ticket=ticket, agent=agent, body=body)
    else:
        event = core.ticket_reply(ticket=ticket, agent=agent, body=body)
    if accepted:
        ticket_attachments_upload(
            ticket=ticket,
            actor=agent,
            uploads=[upload for upload, _n, _t in accepted],
            is_public=not is_note,
        )
    return Written(Outcome.AGENT_NOTE if is_note else Outcome.AGENT_REPLY, ticket, event.pk)


def _vendor_update(parsed: ParsedMail, handoff: Any) -> Written:
    accepted, refused = _files(parsed)
    event = vendor_post_update(
        handoff=handoff,
        body=_body(parsed.reply, refused, has_files=bool(accepted)),
        uploads=[upload for upload, _n, _t in accepted],
    )
    return Written(Outcome.VENDOR_UPDATE, handoff.ticket, event.pk)


def _new_ticket(parsed: ParsedMail, *, follows: Ticket | None) -> Written:
    category = selectors.category_for_new_mail(parsed.recipients)
    if category is None:
        raise NoCategory(_("No active category takes new tickets by e-mail."))
    accepted, refused = _files(parsed)
    subject = strip_subject_prefixes(parsed.subject) if follows else parsed.subject
    description = _body(parsed.reply if follows else parsed.text, refused, has_files=bool(accepted))
    requester = selectors.customer_user_by_email(parsed.sender)
    ticket, _created = core.ticket_create_or_get(
        category=category,
        subject=(subject or _("(no subject)"))[:200],
        description=description or _("(no text)"),
        requester_name=_author(parsed),
        requester_email=parsed.sender,
        requester=requester,
        # The key makes a second delivery that slipped past the Message-ID record
        # (none should) find this ticket instead of opening another.
        submission_key=f"mail:{parsed.key[:59]}",
        via="email",
        data={
            "message_id": parsed.message_id[:998],
            **({"follows": follows.reference} if follows else {}),
        },
    )
    # The "created" event is read only when files hang off it.
    created_event = (
        ticket.events.filter(kind=core.Kind.CREATED).only("pk").first() if accepted else None
    )
    for upload, name, content_type in accepted:
        attachment_add(
            ticket=ticket,
            upload=upload,
            event=created_event,
            uploaded_by=requester,
            uploaded_by_name=ticket.requester_name,
            checked=(name, content_type),
        )
    detail = _("follows %(ref)s, which is closed") % {"ref": follows.reference} if follows else ""
    return Written(Outcome.CREATED, ticket, created_event.pk if created_event else None, detail)
