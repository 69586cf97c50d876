from django.apps import AppConfig


class TicketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tickets"

    def ready(self) -> None:
        # The agent ticket page caches KB suggestions and article choices under a KB
        # version (tickets/pagecache.py): every article write must bump it, whichever
        # process makes it (web, Celery, kb_import).
        from django.db.models.signals import post_delete, post_save

        from knowledgebase.models import Article

        from .pagecache import kb_version_bump

        post_save.connect(kb_version_bump, sender=Article, dispatch_uid="tickets-kb-version")
        post_delete.connect(kb_version_bump, sender=Article, dispatch_uid="tickets-kb-version-del")
