"""Make the audit log append-only in the database itself, and create the chain head row.

PostgreSQL: a trigger refuses every UPDATE and DELETE of audit_auditevent, whoever asks.
Removing events (retention, after their own period) is a DBA's job with the trigger
disabled by the table owner; TRUNCATE is left to the owner for the same reason (and because
Django's test flush uses it). The application's database role should not own the table.

SQLite (the embedded demo database): a trigger refuses every UPDATE, and refuses DELETE of any
event but the oldest remaining one. Deleting oldest-first is what retention pruning does, and
it is also what Django's test flush (`DELETE FROM table`, in rowid order) does, so tests that
empty the database still work; deleting or editing any event in the middle is refused.

Either way `contactpoint audit verify` detects a changed, missing, inserted or reordered event.
"""

from django.db import migrations

PG_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit events are append-only: %% refused on audit_auditevent', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER audit_event_append_only
        BEFORE UPDATE OR DELETE ON audit_auditevent
        FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
    """,
]
PG_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;",
    "DROP FUNCTION IF EXISTS audit_event_refuse_change();",
]

SQLITE_FORWARD = [
    """
    CREATE TRIGGER audit_event_no_update
    BEFORE UPDATE ON audit_auditevent
    BEGIN
        SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused on audit_auditevent');
    END;
    """,
    """
    CREATE TRIGGER audit_event_no_delete
    BEFORE DELETE ON audit_auditevent
    WHEN OLD.sequence > (SELECT MIN(sequence) FROM audit_auditevent)
    BEGIN
        SELECT RAISE(ABORT, 'audit events are append-only: only the oldest event may be removed');
    END;
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_no_update;",
    "DROP TRIGGER IF EXISTS audit_event_no_delete;",
]


def _run(statements: list[str], schema_editor) -> None:  # type: ignore[no-untyped-def]
    for statement in statements:
        schema_editor.execute(statement)


def protect(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(PG_FORWARD, schema_editor)
    elif vendor == "sqlite":
        _run(SQLITE_FORWARD, schema_editor)


def unprotect(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(PG_REVERSE, schema_editor)
    elif vendor == "sqlite":
        _run(SQLITE_REVERSE, schema_editor)


def create_chain_head(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    head_model = apps.get_model("audit", "AuditChainHead")
    head_model.objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(create_chain_head, migrations.RunPython.noop),
        migrations.RunPython(protect, unprotect),
    ]
