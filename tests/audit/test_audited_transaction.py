"""audited_transaction: an act and its audit event commit together or not at all.

On PostgreSQL the event's INSERT travels with the COMMIT in one round trip; these tests run
with real transactions (transaction=True) so that path, not a savepoint, is what they exercise.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from contactpoint.access.models import User
from contactpoint.audit.models import AuditChainHead, AuditEvent
from contactpoint.audit.selectors import verify_chain
from contactpoint.audit.services import (
    audited_transaction,
    compute_hash,
    record_event,
    record_event_of_act,
)

pytestmark = pytest.mark.django_db(transaction=True)

AWKWARD_DETAILS = [
    {"criteria": {"family_name": "O'Neill", "given_name": 'Zoë "Zee"'}},
    {"criteria": {"family_name": "\\u0000 \\\\ ; COMMIT; --"}},
    # The stand-ins the database fills in, typed into a search: written the portable way.
    {"criteria": {"family_name": "\u2063previous-hash\u2063"}},
    {"criteria": {"family_name": "\u2063sequence\u2063"}},
    {"returned": [f"{n:012d}" for n in range(50)], "candidates": 1234},
]


def test_events_recorded_at_the_end_of_a_transaction_join_the_chain() -> None:
    record_event(action="test.before")
    for detail in AWKWARD_DETAILS:
        with audited_transaction() as audit:
            audit.record(
                action="search.children",
                actor_id=7,
                actor_username="priya.shah",
                organisation_code="E08000003",
                purpose="safeguarding_concern",
                ip_address="192.0.2.10",
                detail=detail,
            )
    record_event(action="test.after")

    result = verify_chain()
    events = list(AuditEvent.objects.order_by("sequence"))
    assert result.ok, result.problem
    assert [e.action for e in events] == ["test.before", *["search.children"] * 5, "test.after"]
    assert [e.detail for e in events[1:6]] == AWKWARD_DETAILS
    assert all(compute_hash(e) == e.hash for e in events)
    head = AuditChainHead.objects.get(id=1)
    assert (head.sequence, head.hash) == (events[-1].sequence, events[-1].hash)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite stores any text as an IP address"
)
def test_an_event_that_cannot_be_written_undoes_the_act() -> None:
    record_event(action="test.before")
    with pytest.raises(DatabaseError), audited_transaction() as audit:
        User.objects.create_user(username="written.in.the.act", password="x" * 20)
        audit.record(action="search.children", ip_address="not-an-address")

    assert not User.objects.filter(username="written.in.the.act").exists()
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.before"]
    # The connection is usable and the chain carries on from where it was.
    with audited_transaction() as audit:
        audit.record(action="test.after")
    assert verify_chain().ok
    assert AuditEvent.objects.get(action="test.after").sequence == 2


def test_an_act_that_fails_after_recording_writes_nothing() -> None:
    with pytest.raises(RuntimeError, match="the read failed"), audited_transaction() as audit:
        User.objects.create_user(username="written.in.the.act", password="x" * 20)
        audit.record(action="search.children")
        raise RuntimeError("the read failed")

    assert not User.objects.filter(username="written.in.the.act").exists()
    assert not AuditEvent.objects.exists()


def test_inside_an_outer_transaction_the_event_is_written_in_it() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        with audited_transaction() as audit:
            audit.record(action="search.children")
        # Written already, in the outer transaction: visible here, gone when it rolls back.
        assert AuditEvent.objects.filter(action="search.children").exists()
        raise RuntimeError("the outer act failed")

    assert not AuditEvent.objects.exists()
    assert not connection.in_atomic_block


def test_on_commit_callbacks_run_once_the_event_is_committed() -> None:
    seen: list[int] = []
    with audited_transaction() as audit:
        audit.record(action="search.children")
        transaction.on_commit(lambda: seen.append(AuditEvent.objects.count()))

    assert seen == [1]


def test_an_event_of_the_act_recorded_deeper_down_goes_with_the_acts_own() -> None:
    with audited_transaction() as audit:
        record_event_of_act(action="access.alert_raised", detail={"rule": "out_of_hours"})
        # On PostgreSQL it waits for the COMMIT (no round trip now); elsewhere it is written.
        written_at_once = AuditEvent.objects.filter(action="access.alert_raised").exists()
        audit.record(action="search.children")

    assert written_at_once is (connection.vendor != "postgresql")
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [(e.sequence, e.action) for e in events] == [
        (1, "access.alert_raised"),
        (2, "search.children"),
    ]
    assert events[0].detail == {"rule": "out_of_hours"}
    assert verify_chain().ok


def test_an_event_of_the_act_inside_a_savepoint_is_written_at_once_and_can_roll_back() -> None:
    with audited_transaction() as audit:
        with pytest.raises(RuntimeError), transaction.atomic():
            record_event_of_act(action="access.alert_raised")
            assert AuditEvent.objects.filter(action="access.alert_raised").exists()
            raise RuntimeError("only this part failed")
        audit.record(action="search.children")

    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["search.children"]
    assert verify_chain().ok


def test_an_act_that_fails_writes_none_of_its_events() -> None:
    with pytest.raises(RuntimeError), audited_transaction() as audit:
        record_event_of_act(action="access.alert_raised")
        audit.record(action="search.children")
        raise RuntimeError("the read failed")

    assert not AuditEvent.objects.exists()
    # The next act starts clean: nothing of the failed one is sent with its COMMIT.
    with audited_transaction() as audit:
        audit.record(action="search.children")
    assert list(AuditEvent.objects.values_list("sequence", "action")) == [(1, "search.children")]


def test_outside_an_act_an_event_is_written_at_once() -> None:
    with transaction.atomic():
        record_event_of_act(action="access.alert_raised")
        assert AuditEvent.objects.filter(action="access.alert_raised").exists()
    record_event_of_act(action="access.account_suspended")

    assert AuditEvent.objects.count() == 2
    assert verify_chain().ok
