"""Drop indexes that another index makes redundant: each FK's column leads a unique constraint
(one_outcome_per_line, one_record_per_source_id), which serves every lookup by it.

Each FK's own index is dropped by name, as in index 0004 (which says why not by AlterField).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="loadrow",
                    name="load",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rows",
                        to="feeds.feedload",
                    ),
                ),
                migrations.AlterField(
                    model_name="sourcerecord",
                    name="source",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="records",
                        to="feeds.sourcesystem",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "feeds_loadrow_load_id_a5c8bbb8"',
                    reverse_sql='CREATE INDEX "feeds_loadrow_load_id_a5c8bbb8" ON "feeds_loadrow" ("load_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "feeds_sourcerecord_source_id_2a7a2581"',
                    reverse_sql='CREATE INDEX "feeds_sourcerecord_source_id_2a7a2581" ON "feeds_sourcerecord" ("source_id")',
                ),
            ],
        ),
    ]
