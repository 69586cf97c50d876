from django.apps import AppConfig


def _login_only(kwargs: dict) -> bool:
    # Every login saves last_login, which no cached piece shows.
    fields = kwargs.get("update_fields")
    return fields is not None and set(fields) <= {"last_login"}


def _not_username(kwargs: dict) -> bool:
    # The agent pickers show usernames only.
    fields = kwargs.get("update_fields")
    return kwargs["sender"].__name__ != "AgentProfile" and (
        fields is not None and "username" not in fields
    )


class TicketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tickets"

    def ready(self) -> None:
        # What invalidates each cached piece of the ticket pages (counters in
        # helpdesk/cache.py). QuerySet.update() and bulk writes send no signal: the
        # write path (services/events.py) bumps for those.
        from django.conf import settings

        from helpdesk import cache

        user = settings.AUTH_USER_MODEL
        # A grant changes which tickets the "all tiers" view lists for its user; the
        # ticket page's block lists attachments and the live vendor link.
        cache.bump_on(
            cache.TICKETS,
            "tickets.Ticket",
            "tickets.TicketAccessGrant",
            "tickets.Attachment",
            "tiers.VendorHandoff",
        )
        # The queue's filter form, the agent profile and the category memos.
        cache.bump_on(cache.DIRECTORY, "tickets.Category", "tiers.AgentProfile")
        # The queue's saved-views bar (valid for this and the tickets counter).
        cache.bump_on(cache.DIRECTORY, "tickets.SavedView")
        # Signed-in users are a memo under this counter (helpdesk.auth): bumped at once
        # too, so a deactivation is seen by the writer's own later reads.
        cache.bump_on(cache.DIRECTORY, user, at_once=True, skip=_login_only)
        cache.bump_on(cache.AGENTS, "tiers.AgentProfile", user, skip=_not_username)
        cache.bump_on(cache.CANNED, "tickets.CannedResponse")
        cache.bump_on(_notifications_of, "tickets.Notification")

        # Agents' open pages hear of every committed ticket change (tickets/live.py).
        from .live import ticket_event_published
        from .services.events import EVENT_HOOKS

        if ticket_event_published not in EVENT_HOOKS:
            EVENT_HOOKS.append(ticket_event_published)


def _notifications_of(instance) -> str:
    from helpdesk import cache

    return cache.notifications(instance.user_id)
