from django.apps import AppConfig


class KnowledgebaseConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "knowledgebase"

    def ready(self) -> None:
        # Every KB piece (search facets, results, suggestions) is cached under the KB
        # counter (helpdesk/cache.py): an article, category or vote (helpful_yes orders
        # results) write bumps it.
        from helpdesk import cache

        cache.bump_on(
            cache.KB, "knowledgebase.Article", "knowledgebase.ArticleFeedback", "tickets.Category"
        )
