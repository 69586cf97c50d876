from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation (tags, triggers, macros)"

    def ready(self) -> None:
        # Rules run inside the transaction of every single event write
        # (tickets.services.events.EVENT_WRITE_HOOKS); the rule list is kept per process
        # under its own counter, which every Trigger write bumps (helpdesk/cache.py).
        from django.db.models.signals import m2m_changed

        from helpdesk import cache
        from tickets.services.events import EVENT_WRITE_HOOKS

        from . import engine
        from .models import Trigger

        if engine.on_event_written not in EVENT_WRITE_HOOKS:
            EVENT_WRITE_HOOKS.append(engine.on_event_written)
        cache.bump_on(engine.TRIGGERS_KEY, "automation.Trigger")
        for through in (Trigger.categories.through, Trigger.notify_users.through):
            m2m_changed.connect(
                engine.triggers_changed, sender=through, dispatch_uid=f"triggers-v-{through}"
            )
