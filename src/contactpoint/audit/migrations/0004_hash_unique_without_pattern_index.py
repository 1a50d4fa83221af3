"""The event hash stays unique, without the LIKE-pattern index PostgreSQL got beside it.

`unique=True` on a CharField makes Django build, on PostgreSQL, a second index with
varchar_pattern_ops for LIKE queries; nothing searches hashes by pattern, and every event
written updated it. The model now declares a UniqueConstraint instead. The database keeps its
unique index (renamed to the constraint's name) and loses only the pattern index. Only the
state changes on SQLite: there Django would rebuild the table to alter the field, which would
drop the append-only triggers of migration 0002 with the old table.
"""

from typing import Any

from django.db import migrations, models


def _drop_pattern_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'audit_auditevent' "
            "AND indexdef LIKE '%%(hash varchar_pattern_ops)%%'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'audit_auditevent'::regclass "
            "AND contype = 'u' AND conname <> 'audit_event_hash_unique' AND conkey = ARRAY["
            "(SELECT attnum FROM pg_attribute WHERE attrelid = 'audit_auditevent'::regclass "
            "AND attname = 'hash')]::smallint[]"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(
                f'ALTER TABLE audit_auditevent RENAME CONSTRAINT "{name}" '
                "TO audit_event_hash_unique"
            )


def _restore_pattern_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE audit_auditevent RENAME CONSTRAINT audit_event_hash_unique "
            "TO audit_auditevent_hash_key"
        )
        cursor.execute(
            "CREATE INDEX audit_auditevent_hash_d0c402da_like ON audit_auditevent "
            "(hash varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_returned_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="hash",
                    field=models.CharField(editable=False, max_length=64),
                ),
                migrations.AddConstraint(
                    model_name="auditevent",
                    constraint=models.UniqueConstraint(
                        fields=("hash",), name="audit_event_hash_unique"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(_drop_pattern_index, _restore_pattern_index),
            ],
        ),
    ]
