"""Drop indexes that another index makes redundant: each is the leading column of a composite
index or unique constraint (or a second index on the same column), so every lookup and every
cascade it served is served as well, and each write to these tables maintains one index fewer.

Each FK's own index is dropped by name: AlterField would let Django find "the" index on the
column by introspection, which also finds a partial unique index on it (for Involvement.child,
one_current_lead_professional) and would drop that too, with the rule it enforces. On SQLite
it would also rebuild every table.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("index", "0003_child_merge"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="child",
                    name="responsible_la",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="children",
                        to="index.localauthority",
                    ),
                ),
                migrations.AlterField(
                    model_name="childfieldsource",
                    name="child",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="field_sources",
                        to="index.child",
                    ),
                ),
                migrations.AlterField(
                    model_name="gpregistration",
                    name="practice",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="registrations",
                        to="index.gppractice",
                    ),
                ),
                migrations.AlterField(
                    model_name="involvement",
                    name="child",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="involvements",
                        to="index.child",
                    ),
                ),
                migrations.AlterField(
                    model_name="schoolenrolment",
                    name="school",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrolments",
                        to="index.school",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "index_child_responsible_la_id_030c5c02"',
                    reverse_sql='CREATE INDEX "index_child_responsible_la_id_030c5c02" ON "index_child" ("responsible_la_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "index_childfieldsource_child_id_4f26a30c"',
                    reverse_sql='CREATE INDEX "index_childfieldsource_child_id_4f26a30c" ON "index_childfieldsource" ("child_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "index_gpregistration_practice_id_8df6ea81"',
                    reverse_sql='CREATE INDEX "index_gpregistration_practice_id_8df6ea81" ON "index_gpregistration" ("practice_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "index_involvement_child_id_abb63447"',
                    reverse_sql='CREATE INDEX "index_involvement_child_id_abb63447" ON "index_involvement" ("child_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "index_schoolenrolment_school_id_b2565468"',
                    reverse_sql='CREATE INDEX "index_schoolenrolment_school_id_b2565468" ON "index_schoolenrolment" ("school_id")',
                ),
            ],
        ),
    ]
