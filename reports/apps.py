from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from tickets.models import Category

        from .selectors import category_choices_changed

        # The dashboard's category filter is cached: every category write drops it.
        for signal in (post_save, post_delete):
            signal.connect(
                category_choices_changed, sender=Category, dispatch_uid=f"reports-{signal}"
            )
