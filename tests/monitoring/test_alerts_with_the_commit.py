"""An alert that a lookup raises is written in the lookup's own transaction, with its event.

On PostgreSQL the alert's INSERT and its audit event travel with the lookup's COMMIT (no round
trip of their own); elsewhere they are written at once. Either way the outcome is the same, and
these tests check it with real transactions (transaction=True), the way a page or the API runs a
lookup, so that on PostgreSQL the path with the COMMIT is the one exercised.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import close_old_connections, connection
from tests.monitoring.support import practitioner, view_as, working_time
from tests.search.children import make_child

from contactpoint.access.models import Alert, AlertAudience, Organisation
from contactpoint.access.policy import viewer_for
from contactpoint.access.protective import alerts, facts
from contactpoint.access.protective.actions import ProtectiveAction
from contactpoint.access.protective.rules import RULES_BY_NAME
from contactpoint.audit.models import AuditEvent
from contactpoint.audit.selectors import verify_chain
from contactpoint.audit.services import audited_transaction
from contactpoint.search.audit_actions import SearchAction
from contactpoint.search.services import ChildNotFound, SearchUnavailable

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_store"),
]


@pytest.fixture(autouse=True)
def _mid_morning() -> object:
    with time_machine.travel(working_time(10, 0), tick=False) as traveller:
        yield traveller


def test_a_shielded_view_raises_both_alerts_each_with_its_event_in_the_chain() -> None:
    person = practitioner()
    child = make_child("Ruby", "Fenwick", dt.date(2016, 5, 4), is_shielded=True)

    shown = view_as(person, child.contactpoint_id)

    assert not isinstance(shown, ChildNotFound)
    raised = {a.audience: a for a in Alert.objects.filter(rule="shielded_record_viewed")}
    assert set(raised) == {AlertAudience.SECURITY_OFFICER, AlertAudience.LA_CONTACTPOINT_TEAM}
    for alert in raised.values():
        event = AuditEvent.objects.get(action=ProtectiveAction.ALERT_RAISED, detail__alert=alert.pk)
        assert event.organisation_code == alert.organisation.code
        assert event.subject_contactpoint_id == child.contactpoint_id
        assert event.detail["audience"] == alert.audience
    # The alerts' events come first, then the view's: all in one chain that verifies.
    actions = list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))
    assert actions[-3:] == [ProtectiveAction.ALERT_RAISED] * 2 + [SearchAction.VIEW]
    assert verify_chain().ok


def test_an_alert_the_hint_missed_is_not_raised_twice_nor_audited_twice() -> None:
    person = practitioner()
    facts_of_person = facts.read_person(viewer_for(person))
    assert facts_of_person is not None

    def raise_it() -> list[Alert]:
        # raised_before is empty both times, as for an alert raised by a lookup in flight.
        with audited_transaction() as audit:
            newly = alerts.raise_for_finding(
                person=facts_of_person,
                rule=RULES_BY_NAME["child_with_own_surname"],
                summary="a child with their own surname",
                dedupe="2026-11-24",
                detail={},
                raised_before={},
            )
            audit.record(action=SearchAction.SEARCH, actor_id=person.pk)
        return newly

    first, second = raise_it(), raise_it()

    assert len(first) == 1 and first[0].pk is not None
    assert first[0].organisation_id == Organisation.objects.get(name="Manchester").pk
    assert [a.pk for a in second if a.pk is not None] == []
    assert list(Alert.objects.values_list("pk", flat=True)) == [first[0].pk]
    assert AuditEvent.objects.filter(action=ProtectiveAction.ALERT_RAISED).count() == 1
    assert AuditEvent.objects.filter(action=SearchAction.SEARCH).count() == 2
    assert verify_chain().ok


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database hashes the event only on PostgreSQL"
)
def test_an_alert_whose_event_could_not_verify_fails_the_lookup_and_writes_nothing() -> None:
    # An organisation code outside the validator (set behind its back): the event's hash could
    # not be the one verify computes, so the lookup must not go ahead without it.
    Organisation.objects.filter(name="Manchester").update(code="Manchestér")
    person = practitioner()
    child = make_child("Ruby", "Fenwick", dt.date(2016, 5, 4), is_shielded=True)
    before = AuditEvent.objects.count()

    with pytest.raises(SearchUnavailable):
        view_as(person, child.contactpoint_id)

    assert not Alert.objects.exists()
    assert AuditEvent.objects.count() == before
    assert verify_chain().ok


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite's in-memory test database is not shared between threads",
)
def test_two_lookups_raising_the_same_alerts_at_once_raise_each_once() -> None:
    person = practitioner()
    facts_of_person = facts.read_person(viewer_for(person))
    assert facts_of_person is not None
    rule = RULES_BY_NAME["child_with_own_surname"]
    rounds = 12
    ready = threading.Barrier(2)
    failures: list[BaseException] = []

    def lookup(order: int) -> None:
        try:
            for n in range(rounds):
                # The two raise the same two alerts, in opposite orders.
                keys = [f"round-{n}-a", f"round-{n}-b"][::order]
                with audited_transaction() as audit:
                    for key in keys:
                        alerts.raise_for_finding(
                            person=facts_of_person,
                            rule=rule,
                            summary="a child with their own surname",
                            dedupe=key,
                            detail={},
                            raised_before={},
                        )
                    audit.record(action=SearchAction.SEARCH, actor_id=person.pk)
                    ready.wait(timeout=10)  # both COMMITs go out together
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)
            ready.abort()
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=lookup, args=(order,)) for order in (1, -1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    raised = list(Alert.objects.all())
    assert len(raised) == rounds * 2
    events = AuditEvent.objects.filter(action=ProtectiveAction.ALERT_RAISED)
    assert sorted(e.detail["alert"] for e in events) == sorted(a.pk for a in raised)
    assert AuditEvent.objects.filter(action=SearchAction.SEARCH).count() == rounds * 2
    assert verify_chain().ok
