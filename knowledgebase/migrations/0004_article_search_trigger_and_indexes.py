"""PostgreSQL full-text and trigram search for articles.

A trigger keeps ``search_vector`` (title A, summary+tags B, body C) and
``suggest_vector`` (title A, summary+tags B) current on every insert and on every
update that touches the searched columns, whatever wrote the row. GIN indexes serve
``@@`` on both vectors and trigram similarity (``pg_trgm``) on the title.

Every operation checks ``schema_editor.connection.vendor`` so that ``migrate`` still
runs on SQLite (the embedded mode), which searches with a plain ``icontains`` instead.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE OR REPLACE FUNCTION knowledgebase_article_search_update() RETURNS trigger AS $$
    DECLARE
        tag_text text := '';
    BEGIN
        IF jsonb_typeof(NEW.tags) = 'array' THEN
            SELECT coalesce(string_agg(value, ' '), '') INTO tag_text
            FROM jsonb_array_elements_text(NEW.tags);
        END IF;
        NEW.suggest_vector :=
            setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A')
            || setweight(to_tsvector('english', coalesce(NEW.summary, '') || ' ' || tag_text), 'B');
        NEW.search_vector :=
            NEW.suggest_vector
            || setweight(to_tsvector('english', coalesce(NEW.body, '')), 'C');
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS knowledgebase_article_search ON knowledgebase_article",
    """
    CREATE TRIGGER knowledgebase_article_search
    BEFORE INSERT OR UPDATE OF title, summary, tags, body ON knowledgebase_article
    FOR EACH ROW EXECUTE FUNCTION knowledgebase_article_search_update()
    """,
    # fastupdate off: articles are written rarely and searched on every keystroke, so
    # every insert goes straight into the index instead of a pending list that each
    # search would have to scan until the next vacuum.
    "CREATE INDEX IF NOT EXISTS article_search_vector_gin ON knowledgebase_article"
    " USING gin (search_vector) WITH (fastupdate = off)",
    "CREATE INDEX IF NOT EXISTS article_suggest_vector_gin ON knowledgebase_article"
    " USING gin (suggest_vector) WITH (fastupdate = off)",
    "CREATE INDEX IF NOT EXISTS article_title_trgm ON knowledgebase_article"
    " USING gin (title gin_trgm_ops) WITH (fastupdate = off)",
    # Keep the heap narrow: rows over 512 bytes move their big columns (body, the full
    # search vector) to TOAST, so scans and rechecks of the small columns that search and
    # suggestions filter and rank on touch ~4x fewer pages (measured: bench/kb.py).
    "ALTER TABLE knowledgebase_article SET (toast_tuple_target = 512)",
    # Fill the vectors of the rows that already exist.
    "UPDATE knowledgebase_article SET title = title",
]

BACKWARD = [
    "ALTER TABLE knowledgebase_article RESET (toast_tuple_target)",
    "DROP INDEX IF EXISTS article_title_trgm",
    "DROP INDEX IF EXISTS article_suggest_vector_gin",
    "DROP INDEX IF EXISTS article_search_vector_gin",
    "DROP TRIGGER IF EXISTS knowledgebase_article_search ON knowledgebase_article",
    "DROP FUNCTION IF EXISTS knowledgebase_article_search_update()",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledgebase", "0003_article_search_versions_feedback")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
