"""Foreign keys off while the initial load writes in bulk, and back on, validated, after.

PostgreSQL checks each foreign key with a trigger for every row inserted. In the initial load's
bulk write, with a dozen such keys on a child's rows, those checks were a sixth of the writing
phase. PostgreSQL's own advice for populating a database is to drop the foreign keys and add
them back after the load ("Populating a Database: Remove Foreign Key Constraints"): adding one
back checks every row in one join, a tenth of a second for half a million rows.

Nothing is lost by a crash: each key's definition is recorded in the transaction that drops it
(SuspendedForeignKey), and restore_foreign_keys adds back whatever is recorded, checked against
every row as it then stands, in one transaction. Every initial and online load calls it before
it writes, so keys a killed load left off are back before anything else is written.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, models, transaction

from contactpoint.feeds.models import SuspendedForeignKey


def suspend_foreign_keys(tables: Iterable[type[models.Model]]) -> int:
    """Drop (recording each) the foreign keys of these models' tables; how many (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return 0
    names = sorted({model._meta.db_table for model in tables})
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE c.contype = 'f' AND c.conrelid = ANY(CAST(%s AS regclass[])) "
            "ORDER BY t.relname, c.conname",
            [names],
        )
        found = cursor.fetchall()
        SuspendedForeignKey.objects.bulk_create(
            SuspendedForeignKey(table=table, name=name, definition=definition)
            for table, name, definition in found
        )
        for table, name, _ in found:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    return len(found)


def restore_foreign_keys() -> int:
    """Add back every suspended foreign key, each checked against the rows; how many.

    In one transaction: if any row breaks a key (which would be a bug in the bulk write), the
    database error is raised and every key stays recorded, to be tried again by the next load.
    """
    if connection.vendor != "postgresql":
        return 0
    quote = connection.ops.quote_name
    with transaction.atomic():
        suspended = list(SuspendedForeignKey.objects.select_for_update().order_by("pk"))
        with connection.cursor() as cursor:
            for key in suspended:
                # The definition is PostgreSQL's own text for the key, recorded as it was dropped.
                cursor.execute(
                    f"ALTER TABLE {quote(key.table)} ADD CONSTRAINT {quote(key.name)} "
                    f"{key.definition}"
                )
        SuspendedForeignKey.objects.filter(pk__in=[key.pk for key in suspended]).delete()
    return len(suspended)
