"""An index on the hand-offs' creation time, for the vendor scorecards.

It belongs to ``tiers_vendorhandoff`` but is created here, like 0002 (the tiers app
owns the model): the scorecards select the hand-offs created in the range across all
vendors, and the only index with ``created_at`` leads with the vendor, so the query
read the whole table (50,000 hand-offs at 1,000,000 tickets: ~30 ms, growing with
history). It could move into ``tiers.VendorHandoff.Meta.indexes``.
"""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS handoff_created ON tiers_vendorhandoff (created_at)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS handoff_created")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_tier_rollup"),
        ("tiers", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
