"""Keep ``suggest_vector`` in the heap row.

0004 set ``toast_tuple_target = 512`` so bodies and the full search vector move to
TOAST. The toaster then kept moving the largest remaining column out until the row
fitted, and on the bench data (10,020 articles) that was the suggestion vector of many
rows: a suggestion that matched 2,656 articles read 9,428 buffers for a 1,816-page
heap (18-20 ms), 617 buffers and 6-8 ms once the vector is in the row. ``MAIN``
storage still compresses it but moves it out only when the row would not fit in a
page, whatever the tuple target says.

Storage applies to rows as they are written, so the rows are written again: the
trigger computes a fresh vector, which is then stored in the row.
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE knowledgebase_article ALTER COLUMN suggest_vector SET STORAGE MAIN",
    "UPDATE knowledgebase_article SET title = title",
]

BACKWARD = ["ALTER TABLE knowledgebase_article ALTER COLUMN suggest_vector SET STORAGE EXTENDED"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledgebase", "0004_article_search_trigger_and_indexes")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
