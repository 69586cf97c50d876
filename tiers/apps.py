from django.apps import AppConfig


class TiersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tiers"

    def ready(self) -> None:
        # Budget rules, SLA targets and calendars are kept across requests under the
        # policies counter (tiers/selectors.py).
        from helpdesk import cache

        # TierAssignment: which tiers assign automatically (its turn pointer is written
        # with update(), which sends no signal, so assignments do not bump the counter).
        models = (
            "EscalationPolicy", "SLAPolicy", "BusinessCalendar", "WorkingHours", "Holiday",
            "TierAssignment",
        )  # fmt: skip
        cache.bump_on(cache.POLICIES, *(f"tiers.{m}" for m in models), at_once=True)

        # Auto-assignment runs after every write that may leave a ticket unassigned in
        # a tier, whichever path wrote it (tiers/assignment.py).
        from tickets.services.events import EVENT_HOOKS

        from .assignment import on_event

        if on_event not in EVENT_HOOKS:
            EVENT_HOOKS.append(on_event)
