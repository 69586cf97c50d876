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
        from .models import BusinessCalendar, EscalationPolicy, Holiday, SLAPolicy, WorkingHours

        for sender in (EscalationPolicy, SLAPolicy, BusinessCalendar, WorkingHours, Holiday):
            uid = f"tiers-policies-{sender.__name__}"
            post_save.connect(selectors.policies_changed, sender=sender, dispatch_uid=uid)
            post_delete.connect(
                selectors.policies_changed, sender=sender, dispatch_uid=uid + "-del"
            )
