from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations (API tokens, webhooks)"

    def ready(self) -> None:
        # Webhooks listen to every ticket event; the ticket services run the hooks after
        # commit, so a rolled-back change never reaches a receiver.

        from tickets.services.events import EVENT_HOOKS

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            schema,  # noqa: F401  (registers the token auth in the OpenAPI schema)
        )
        from .services import webhook_event_hook

        if webhook_event_hook not in EVENT_HOOKS:
            EVENT_HOOKS.append(webhook_event_hook)
        # The subscription list is kept per process under a counter (services.py).
        from helpdesk import cache

        cache.bump_on(cache.WEBHOOKS, "integrations.Webhook", at_once=True)
