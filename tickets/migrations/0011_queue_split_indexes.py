"""Two small partial indexes for the agent queue's default view ("unassigned or
mine"), paged as two ordered scans (tickets/queue.py). The planner cannot estimate
"live and unassigned" (a tiny share of the table, correlated with the status), so the
predicate lives in the index and needs no estimate.

Created only if missing: the shared 1M-ticket bench database got them by hand
(CREATE INDEX CONCURRENTLY, same definitions) before this migration existed.
"""

from django.conf import settings
from django.db import migrations, models

LIVE = ["new", "open", "pending_customer", "pending_vendor"]


class AddIndexIfMissing(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        with schema_editor.connection.cursor() as cursor:
            existing = schema_editor.connection.introspection.get_constraints(
                cursor, model._meta.db_table
            )
        if self.index.name not in existing:
            super().database_forwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledgebase", "0004_article_search_trigger_and_indexes"),
        ("tickets", "0010_partial_resolved_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexIfMissing(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("assignee__isnull", True), ("status__in", LIVE)),
                fields=["tier", "escalate_at", "id"],
                name="ticket_queue_unassigned",
            ),
        ),
        AddIndexIfMissing(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("assignee__isnull", False), ("status__in", LIVE)),
                fields=["assignee", "tier", "escalate_at", "id"],
                name="ticket_queue_assigned",
            ),
        ),
    ]
