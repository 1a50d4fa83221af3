"""The audit log is append-only and hash-chained; any single tampering is found by verify."""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from contactpoint.audit.models import AuditChainHead, AuditEvent
from contactpoint.audit.selectors import Tampering, verify_chain
from contactpoint.audit.services import compute_hash, record_event

pytestmark = pytest.mark.django_db

_migration = importlib.import_module("contactpoint.audit.migrations.0002_append_only")


def write_events(count: int = 8) -> list[AuditEvent]:
    return [
        record_event(
            action="search.children",
            actor_id=7,
            actor_username="priya.shah",
            organisation_code="E08000003",
            purpose="safeguarding_concern",
            detail={"criteria": {"family_name": "O'Neill"}, "returned": [f"{n:012d}"]},
        )
        for n in range(count)
    ]


@contextmanager
def protection_lifted() -> Iterator[None]:
    """What an attacker with database access does first: disable the append-only triggers.

    Inside the test's transaction, so that the triggers come back when it rolls back.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        else:
            for statement in _migration.SQLITE_REVERSE:
                cursor.execute(statement)
    yield


def run_sql(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_a_fresh_chain_of_events_verifies() -> None:
    write_events()

    result = verify_chain()

    assert result.ok and result.events_checked == 8 and result.head_sequence == 8


def test_each_event_names_its_predecessors_hash() -> None:
    events = write_events(3)

    assert events[0].previous_hash == "0" * 64
    assert [e.previous_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert AuditChainHead.objects.get().hash == events[-1].hash


def test_the_application_cannot_change_or_delete_an_event() -> None:
    event = write_events(1)[0]

    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(purpose="other")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET purpose = 'other' WHERE sequence = 3",
        "DELETE FROM audit_auditevent WHERE sequence = 3",
        "DELETE FROM audit_auditevent WHERE sequence = 8",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_event(statement: str) -> None:
    write_events()

    with pytest.raises(DatabaseError), transaction.atomic():
        run_sql(statement)

    assert verify_chain().ok


def test_a_changed_event_is_found() -> None:
    write_events()
    with protection_lifted():
        run_sql("UPDATE audit_auditevent SET actor_username = 'someone.else' WHERE sequence = 4")

    problem = verify_chain().problem

    assert problem is not None and (problem.kind, problem.sequence) == (Tampering.MODIFIED, 4)


def test_a_changed_and_rehashed_event_is_found() -> None:
    write_events()
    forged = AuditEvent.objects.get(sequence=4)
    forged.purpose = "new_referral"
    with protection_lifted():
        run_sql(
            "UPDATE audit_auditevent SET purpose = %s, hash = %s WHERE sequence = 4",
            ["new_referral", compute_hash(forged)],
        )

    problem = verify_chain().problem

    assert problem is not None and (problem.kind, problem.sequence) == (Tampering.MODIFIED, 4)


@pytest.mark.parametrize(("sequence", "reported"), [(1, 1), (5, 5), (8, 8)])
def test_a_deleted_event_is_found(sequence: int, reported: int) -> None:
    write_events()
    with protection_lifted():
        run_sql("DELETE FROM audit_auditevent WHERE sequence = %s", [sequence])

    problem = verify_chain().problem

    assert problem is not None and (problem.kind, problem.sequence) == (Tampering.DELETED, reported)


def _forged_event(sequence: int, previous_hash: str) -> AuditEvent:
    template = AuditEvent.objects.get(sequence=2)
    forged = AuditEvent(
        sequence=sequence,
        occurred_at=template.occurred_at,
        action="search.view_child",
        actor_id=99,
        actor_username="intruder",
        purpose="safeguarding_concern",
        subject_contactpoint_id="123456789012",
        detail={"shown": ["identity"]},
        previous_hash=previous_hash,
    )
    forged.hash = compute_hash(forged)
    return forged


def test_an_event_inserted_after_the_last_is_found() -> None:
    events = write_events()
    AuditEvent.objects.bulk_create([_forged_event(9, events[-1].hash)])

    problem = verify_chain().problem

    assert problem is not None and (problem.kind, problem.sequence) == (Tampering.INSERTED, 9)


def test_an_event_inserted_in_the_middle_is_found() -> None:
    events = write_events()
    with protection_lifted():  # make room at #4 by renumbering #4..#8 as #5..#9
        run_sql("UPDATE audit_auditevent SET sequence = sequence + 1000 WHERE sequence >= 4")
        run_sql("UPDATE audit_auditevent SET sequence = sequence - 999 WHERE sequence >= 1000")
    AuditEvent.objects.bulk_create([_forged_event(4, events[2].hash)])

    problem = verify_chain().problem

    assert problem is not None and (problem.kind, problem.sequence) == (Tampering.INSERTED, 4)


def test_a_naively_inserted_event_is_found() -> None:
    """Inserted with renumbering but without a valid hash: still reported as the insertion."""
    events = write_events()
    with protection_lifted():
        run_sql("UPDATE audit_auditevent SET sequence = sequence + 1000 WHERE sequence >= 4")
        run_sql("UPDATE audit_auditevent SET sequence = sequence - 999 WHERE sequence >= 1000")
    forged = _forged_event(4, events[2].hash)
    forged.hash = "f" * 64
    AuditEvent.objects.bulk_create([forged])

    problem = verify_chain().problem

    assert problem is not None and (problem.kind, problem.sequence) == (Tampering.INSERTED, 4)


def test_reordered_events_are_found() -> None:
    write_events()
    with protection_lifted():  # swap #5 and #6
        run_sql("UPDATE audit_auditevent SET sequence = -5 WHERE sequence = 5")
        run_sql("UPDATE audit_auditevent SET sequence = 5 WHERE sequence = 6")
        run_sql("UPDATE audit_auditevent SET sequence = 6 WHERE sequence = -5")

    problem = verify_chain().problem

    assert problem is not None and (problem.kind, problem.sequence) == (Tampering.REORDERED, 5)


def test_the_verify_command_reports_and_exits_accordingly() -> None:
    write_events()
    out = io.StringIO()
    call_command("audit", "verify", "--no-progress", stdout=out)
    assert "The audit chain holds: 8 events" in out.getvalue()

    with protection_lifted():
        run_sql("DELETE FROM audit_auditevent WHERE sequence = 3")
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("audit", "verify", "--no-progress", stderr=err)

    assert exit_status.value.code == 1
    assert "broken at #3 (deleted)" in err.getvalue()
