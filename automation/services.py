"""Writes of the automation app: tags on tickets, macros applied, rules saved.

Tag changes and macros go through the ticket services' lock and permission check
(``user_can_act_on``), and every change is a timeline event, like any agent action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import DomainError, ForbiddenError
from tickets.models import Ticket, TicketEvent
from tickets.selectors import user_can_act_on
from tickets.services import core
from tickets.services.events import tickets_update

from .models import TAG_RE, Macro, Tag, TicketTag

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser

Kind = TicketEvent.Kind
#: Tags one ticket may carry: enough for any desk's labels, never a dumping ground.
MAX_TAGS_PER_TICKET = 20


def tag_names_clean(raw: str | Iterable[str]) -> list[str]:
    """Comma- or space-separated names (or a list) as normalised tag names, once each;
    a name that is not a tag raises a ``DomainError`` naming it."""
    parts = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    names: list[str] = []
    for part in parts:
        name = part.strip().lower().lstrip("#")
        if not name:
            continue
        if not TAG_RE.match(name):
            raise DomainError(
                _("“%(name)s” is not a tag: use up to 40 lower-case letters, digits, “-” or “_”.")
                % {"name": name[:50]},
                field="tags",
            )
        if name not in names:
            names.append(name)
    return names


def tag_attach(
    *, ticket: Ticket, names: Sequence[str], actor: User | None, actor_name: str = ""
) -> list[str]:
    """Add the (clean) tags the ticket lacks, with one event; returns the names added.
    The caller holds the ticket's lock and has checked the actor."""
    have = set(ticket.tag_links.values_list("tag__name", flat=True))
    new = [n for n in names if n not in have]
    if not new:
        return []
    if len(have) + len(new) > MAX_TAGS_PER_TICKET:
        raise DomainError(
            _("A ticket carries at most %(n)d tags.") % {"n": MAX_TAGS_PER_TICKET}, field="tags"
        )
    Tag.objects.bulk_create([Tag(name=n) for n in new], ignore_conflicts=True)
    tags = Tag.objects.filter(name__in=new)
    TicketTag.objects.bulk_create(
        [TicketTag(ticket=ticket, tag=t) for t in tags], ignore_conflicts=True
    )
    tickets_update([ticket.pk], updated_at=timezone.now())  # the queue's tag filter
    core.ticket_event_create(
        ticket=ticket,
        kind=Kind.TAGS,
        actor=actor,
        actor_name=actor_name,
        body=_("Tagged %(tags)s.") % {"tags": ", ".join(new)},
        data={"added": new},
    )
    return new


def _locked_for(*, ticket: Ticket, user: User) -> Ticket:
    ticket = core.ticket_lock(ticket)
    if not user_can_act_on(user=user, ticket=ticket):
        raise ForbiddenError(
            _("You cannot act on %(ref)s: it is at Tier %(tier)s.")
            % {"ref": ticket.reference, "tier": ticket.tier}
        )
    return ticket


@transaction.atomic
def ticket_tags_add(*, ticket: Ticket, actor: User, names: str | Iterable[str]) -> list[str]:
    """An agent tags a ticket; returns the tags that were new."""
    clean = tag_names_clean(names)
    if not clean:
        raise DomainError(_("Type a tag first."), field="tags")
    ticket = _locked_for(ticket=ticket, user=actor)
    return tag_attach(ticket=ticket, names=clean, actor=actor)


@transaction.atomic
def ticket_tag_remove(*, ticket: Ticket, actor: User, name: str) -> bool:
    """An agent takes a tag off; ``False`` when the ticket did not carry it."""
    ticket = _locked_for(ticket=ticket, user=actor)
    deleted, _rows = TicketTag.objects.filter(ticket=ticket, tag__name=name).delete()
    if not deleted:
        return False
    tickets_update([ticket.pk], updated_at=timezone.now())
    core.ticket_event_create(
        ticket=ticket,
        kind=Kind.TAGS,
        actor=actor,
        body=_("Removed the tag %(tag)s.") % {"tag": name},
        data={"removed": [name]},
    )
    return True


# ---------------------------------------------------------------------------
# Macros
# ---------------------------------------------------------------------------


@transaction.atomic
def macro_apply(*, macro: Macro, ticket: Ticket, actor: User) -> Ticket:
    """Apply a macro as if the agent did each step by hand, through the same services
    (priority, tags, reply, status or resolution), all or nothing: a step that is
    refused rolls the others back."""
    if not macro.is_active or (macro.owner_id is not None and macro.owner_id != actor.pk):
        raise ForbiddenError(_("This macro is not yours to apply."))
    if not user_can_act_on(user=actor, ticket=ticket):
        raise ForbiddenError(
            _("You cannot act on %(ref)s: it is at Tier %(tier)s.")
            % {"ref": ticket.reference, "tier": ticket.tier}
        )
    if macro.priority:
        ticket = core.ticket_change_priority(ticket=ticket, actor=actor, priority=macro.priority)
    if macro.tags:
        ticket_tags_add(ticket=ticket, actor=actor, names=macro.tags)
    reply = macro.reply.strip()
    if reply:
        core.ticket_reply(
            ticket=ticket,
            agent=actor,
            body=reply,
            pending_customer=macro.status == Macro.Status.PENDING_CUSTOMER,
        )
    ticket = core.ticket_lock(ticket)
    if macro.status == Macro.Status.RESOLVED:
        ticket = core.ticket_resolve(
            ticket=ticket,
            actor=actor,
            resolution=reply or _("Resolved with the macro “%(name)s”.") % {"name": macro.name},
        )
    elif macro.status and macro.status != ticket.status:
        ticket = core.ticket_change_status(ticket=ticket, actor=actor, status=macro.status)
    return ticket


def macro_save(*, macro: Macro) -> Macro:
    """Save a macro from its validated form; a second macro of the same name for the
    same owner (or shared) is a clear error, not a 500."""
    clash = Macro.objects.filter(name__iexact=macro.name, owner_id=macro.owner_id)
    if macro.pk:
        clash = clash.exclude(pk=macro.pk)
    if clash.exists():
        raise DomainError(_("There is already a macro with this name."), field="name")
    macro.save()
    return macro
