"""The trigram search moves off ``tickets_ticket`` to ``tickets_ticketsearch``.

Why (bench/escalation.py, 1,000,000 tickets): a promotion changes indexed columns, so
it is never a HOT update and every index of the ticket gets an entry for the new row
version; the three trigram GIN indexes of migration 0005 were the costliest of them
(the subject's, the description's and the e-mail's, ~11 MB of WAL per 500-ticket batch
of the sweep's UPDATE against ~1 MB without them). The searched text changes almost
never, so it now lives in a one-to-one side table that only changes with it.

A trigger keeps the side table current whatever writes the ticket: one statement-level
INSERT per ticket INSERT statement (``bulk_create`` and raw SQL included) and a row
trigger on updates of the three columns that fires only when one of them changed (the
sweep's UPDATE does not even name them). PostgreSQL only: on SQLite (embedded mode) the
table exists but stays empty, and ``tickets.models.ticket_text_contains`` searches the
ticket's own columns there.
"""

import django.db.models.deletion
from django.db import migrations, models

COLUMNS = ["subject", "description", "requester_email"]

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION tickets_ticket_search_insert() RETURNS trigger AS $$
    BEGIN
        INSERT INTO tickets_ticketsearch (ticket_id, subject, description, requester_email)
        SELECT id, subject, description, requester_email FROM new_tickets
        ON CONFLICT (ticket_id) DO UPDATE SET subject = EXCLUDED.subject,
            description = EXCLUDED.description, requester_email = EXCLUDED.requester_email;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE FUNCTION tickets_ticket_search_update() RETURNS trigger AS $$
    BEGIN
        INSERT INTO tickets_ticketsearch (ticket_id, subject, description, requester_email)
        VALUES (NEW.id, NEW.subject, NEW.description, NEW.requester_email)
        ON CONFLICT (ticket_id) DO UPDATE SET subject = EXCLUDED.subject,
            description = EXCLUDED.description, requester_email = EXCLUDED.requester_email;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS tickets_ticket_search_insert ON tickets_ticket",
    """
    CREATE TRIGGER tickets_ticket_search_insert AFTER INSERT ON tickets_ticket
    REFERENCING NEW TABLE AS new_tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_search_insert()
    """,
    "DROP TRIGGER IF EXISTS tickets_ticket_search_update ON tickets_ticket",
    """
    CREATE TRIGGER tickets_ticket_search_update
    AFTER UPDATE OF subject, description, requester_email ON tickets_ticket
    FOR EACH ROW WHEN (
        OLD.subject IS DISTINCT FROM NEW.subject
        OR OLD.description IS DISTINCT FROM NEW.description
        OR OLD.requester_email IS DISTINCT FROM NEW.requester_email
    ) EXECUTE FUNCTION tickets_ticket_search_update()
    """,
    # The tickets that exist already (inside the migration's transaction, with the
    # trigger in place: no ticket written meanwhile is missed).
    """
    INSERT INTO tickets_ticketsearch (ticket_id, subject, description, requester_email)
    SELECT id, subject, description, requester_email FROM tickets_ticket
    ON CONFLICT (ticket_id) DO NOTHING
    """,
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS tickets_ticket_search_update ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_ticket_search_insert ON tickets_ticket",
    "DROP FUNCTION IF EXISTS tickets_ticket_search_update()",
    "DROP FUNCTION IF EXISTS tickets_ticket_search_insert()",
]


def _has_trgm(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    return cursor.fetchone() is not None


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for sql in FORWARD:
            cursor.execute(sql)
        if _has_trgm(cursor):
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            # Django's icontains compiles to UPPER(col::text) LIKE UPPER(%s).
            for column in COLUMNS:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS ticket_search_{column}_trgm "
                    f"ON tickets_ticketsearch USING gin ((UPPER({column}::text)) gin_trgm_ops)"
                )
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX IF EXISTS ticket_{column}_trgm")
        cursor.execute("ANALYZE tickets_ticketsearch")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for sql in BACKWARD:
            cursor.execute(sql)
        if _has_trgm(cursor):
            for column in COLUMNS:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS ticket_{column}_trgm ON tickets_ticket "
                    f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
                )
        # The side table and its indexes go with the model (DeleteModel).


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_lean_ticket_indexes")]

    operations = [
        migrations.CreateModel(
            name="TicketSearch",
            fields=[
                (
                    "ticket",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_text",
                        serialize=False,
                        to="tickets.ticket",
                    ),
                ),
                ("subject", models.CharField(max_length=200)),
                ("description", models.TextField()),
                ("requester_email", models.CharField(max_length=254)),
            ],
        ),
        migrations.RunPython(forward, backward),
    ]
