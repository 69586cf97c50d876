from django.apps import AppConfig


class TicketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tickets"

    def ready(self) -> None:
        # The agent ticket page caches the agents and the canned responses under
        # versions (tickets/pagecache.py): every write of those rows must bump them,
        # whichever process makes it (web, Celery, commands). KB pieces use the KB's
        # own version (knowledgebase/cache.py), bumped by knowledgebase's receivers.
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from tiers.models import AgentProfile

        from . import pagecache
        from .models import CannedResponse

        for sender, receiver in (
            (AgentProfile, pagecache.agents_version_bump),
            (get_user_model(), pagecache.agents_version_bump),
            (CannedResponse, pagecache.canned_version_bump),
        ):
            uid = f"tickets-pagecache-{sender.__name__}"
            post_save.connect(receiver, sender=sender, dispatch_uid=uid)
            post_delete.connect(receiver, sender=sender, dispatch_uid=uid + "-del")

        # Connects the receivers that bump the cache versions on ticket writes.
        from . import versions  # noqa: F401

        # Agents' open pages hear of every committed ticket change (tickets/live.py).
        from .live import ticket_event_published
        from .services.core import EVENT_HOOKS

        if ticket_event_published not in EVENT_HOOKS:
            EVENT_HOOKS.append(ticket_event_published)
