"""Adding files to an existing ticket (the API's attachments endpoint)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk.exceptions import ForbiddenError
from tiers.selectors import agent_profile_of, user_is_manager

from ..models import Attachment, Ticket, TicketEvent
from ..selectors import user_can_act_on, user_is_requester
from .attachments import attachment_add, validate_uploads
from .core import TicketError
from .events import ticket_event_create, tickets_update

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@transaction.atomic
def ticket_attachments_upload(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    uploads: list[UploadedFile],
    is_public: bool = True,
) -> list[Attachment]:
    """Attach files with one ``attachment`` event. The requester's files are public;
    staff who may act on the ticket can also attach internal files. All files are
    validated before any is stored, so a bad one leaves nothing half-written."""
    staff = user_is_manager(actor) or agent_profile_of(actor) is not None
    if staff:
        if not user_can_act_on(user=actor, ticket=ticket):
            raise ForbiddenError(
                _("You cannot act on %(ref)s: it is at Tier %(tier)s.")
                % {"ref": ticket.reference, "tier": ticket.tier}
            )
    elif not user_is_requester(user=actor, ticket=ticket):
        raise ForbiddenError(_("Only the requester and the help desk can attach files."))
    elif not is_public:
        raise ForbiddenError(_("Only agents can attach internal files."), field="internal")
    if ticket.status == Ticket.Status.CLOSED:
        raise TicketError(
            _("%(ref)s is closed. Please open a new ticket.") % {"ref": ticket.reference}
        )
    if not uploads:
        raise TicketError(_("Choose a file to attach."), field="file")
    validated = validate_uploads(uploads)
    names = [name for _upload, name, _type in validated]
    event = ticket_event_create(
        ticket=ticket,
        kind=TicketEvent.Kind.ATTACHMENT,
        actor=actor,
        actor_name="" if staff else ticket.requester_name,
        body=", ".join(names),
        is_public=is_public,
        data={"files": names},
    )
    tickets_update([ticket.pk], updated_at=event.created_at)
    return [
        attachment_add(
            ticket=ticket,
            upload=upload,
            event=event,
            uploaded_by=actor,
            uploaded_by_name="" if staff else ticket.requester_name,
            is_public=is_public,
            checked=(name, content_type),
        )
        for upload, name, content_type in validated
    ]
