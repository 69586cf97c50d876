from django.apps import AppConfig


class TiersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tiers"

    def ready(self) -> None:
        # Budget rules, SLA targets and calendars are kept across requests under the
        # "policies" version (tiers/selectors.py): every write of the rows they are
        # built from bumps it, whichever process makes it (web, Celery, commands).
        from django.db.models.signals import post_delete, post_save

        from . import selectors
        from .models import (
            BusinessCalendar,
            EscalationPolicy,
            Holiday,
            SLAPolicy,
            TierAssignment,
            WorkingHours,
        )

        # TierAssignment: which tiers assign automatically (its turn pointer is written
        # with update(), which sends no signal, so assignments do not bump the version).
        senders = (
            EscalationPolicy, SLAPolicy, BusinessCalendar, WorkingHours, Holiday, TierAssignment,
        )  # fmt: skip
        for sender in senders:
            uid = f"tiers-policies-{sender.__name__}"
            post_save.connect(selectors.policies_changed, sender=sender, dispatch_uid=uid)
            post_delete.connect(
                selectors.policies_changed, sender=sender, dispatch_uid=uid + "-del"
            )

        # Auto-assignment runs after every write that may leave a ticket unassigned in
        # a tier, whichever path wrote it (tiers/assignment.py).
        from tickets.services.core import EVENT_HOOKS

        from .assignment import on_event

        if on_event not in EVENT_HOOKS:
            EVENT_HOOKS.append(on_event)
