"""Trigram indexes for the agent queue search (subject, description, requester
e-mail contain-searches stay index scans with a million tickets).

PostgreSQL only: Django's ``icontains`` compiles to ``UPPER(col::text) LIKE UPPER(%s)``,
so the indexes are on that expression. On SQLite (embedded mode) this is a no-op,
and the indexes are not part of the model state, so ``makemigrations`` stays clean.
"""

from django.db import migrations

COLUMNS = ["subject", "description", "requester_email"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return  # the contrib package is not installed: search still works, unindexed
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS ticket_{column}_trgm ON tickets_ticket "
                f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX IF EXISTS ticket_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0004_ticket_access_grant")]

    operations = [migrations.RunPython(create, drop)]
