"""Index the children a search listed, for "who has viewed this child" (PostgreSQL only).

A search's audit event names the children its results showed in `detail["returned"]`; the
report finds those events with `detail -> 'returned' @> '["<id>"]'`, which this GIN index
answers without reading the log. jsonb_path_ops: the index holds only what containment needs,
about a third of the default operator class. Built CONCURRENTLY, so that a live log keeps
taking events while it builds (hence not atomic). SQLite, the demo database, has no such index
and reads the list as text.
"""

from typing import Any

from django.db import migrations

INDEX = "audit_returned"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON audit_auditevent "
            "USING gin ((detail -> 'returned') jsonb_path_ops)"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0002_append_only")]

    operations = [migrations.RunPython(create, drop)]
