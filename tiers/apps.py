from django.apps import AppConfig


class TiersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tiers"

    def ready(self) -> None:
        # Budget rules, SLA targets and calendars are kept across requests under the
        # policies counter (tiers/selectors.py).
        from helpdesk import cache

        models = ("EscalationPolicy", "SLAPolicy", "BusinessCalendar", "WorkingHours", "Holiday")
        cache.bump_on(cache.POLICIES, *(f"tiers.{m}" for m in models), at_once=True)
