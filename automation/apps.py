from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation (tags, triggers, macros)"

    def ready(self) -> None:
        # Rules run inside the transaction of every event write (tickets.services.core);
        # the rule list is kept per process under a version every Trigger write bumps.
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from tickets.services.core import EVENT_WRITE_HOOKS

        from . import engine
        from .models import Trigger

        if engine.on_event_written not in EVENT_WRITE_HOOKS:
            EVENT_WRITE_HOOKS.append(engine.on_event_written)
        post_save.connect(engine.triggers_changed, sender=Trigger, dispatch_uid="triggers-v")
        post_delete.connect(engine.triggers_changed, sender=Trigger, dispatch_uid="triggers-v-del")
        for through in (Trigger.categories.through, Trigger.notify_users.through):
            m2m_changed.connect(
                engine.triggers_changed, sender=through, dispatch_uid=f"triggers-v-{through}"
            )
