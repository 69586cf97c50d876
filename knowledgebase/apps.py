from django.apps import AppConfig


class KnowledgebaseConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "knowledgebase"

    def ready(self) -> None:
        # Article and category writes bump the KB cache version (knowledgebase/cache.py).
        from . import cache

        cache.connect()
