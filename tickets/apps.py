from django.apps import AppConfig


class TicketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tickets"

    def ready(self) -> None:
        # Connects the receivers that bump the cache versions on ticket writes.
        from . import versions  # noqa: F401
