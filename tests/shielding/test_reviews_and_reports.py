"""Overdue reviews are listed for the LA, capped; the LA report gives counts only (issue 7, 1, 7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import time_machine
from django.utils import timezone
from tests.shielding.support import (
    BOLTON,
    HIDDEN,
    VISIBLE,
    born_years_ago,
    make_child,
    person,
    web_client,
)

from contactpoint.access.models import User
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent
from contactpoint.index.models import Child
from contactpoint.index.vocabularies import ChildStatus
from contactpoint.shielding import selectors, services
from contactpoint.shielding.selectors import DueBecause
from contactpoint.shielding.vocabularies import DecisionSource, ShieldingReason

pytestmark = pytest.mark.django_db
WHY = "Family in a refuge after domestic abuse"


def _child(n: int, *, shielded: bool = True, la: str = "E08000003") -> Child:
    return make_child(
        HIDDEN if n % 2 else VISIBLE,
        given=f"Child{chr(65 + n % 26)}",
        family=f"Reviewson{chr(65 + n // 26)}",
        born=born_years_ago(5 + n % 10, 1 + n % 12, 1 + n % 28),
        shielded=shielded,
        la=la,
        source_record_id=f"REV-{n}",
    )


def _shield(officer: User, child: Child, *, review_in_days: int = 183) -> None:
    services.shield_child(
        officer=officer,
        child=child,
        reason=ShieldingReason.REFUGE,
        justification=WHY,
        review_on=timezone.localdate() + dt.timedelta(days=review_in_days),
    )


def test_a_shield_whose_review_date_has_passed_is_due(officer: User) -> None:
    child = _child(1, shielded=False)
    _shield(officer, child, review_in_days=10)
    assert selectors.overdue_reviews(child.responsible_la_id).total_due == 0
    later = timezone.localdate() + dt.timedelta(days=10)
    queue = selectors.overdue_reviews(child.responsible_la_id, today=later)
    assert [e.status.contactpoint_id for e in queue.entries] == [child.contactpoint_id]
    assert queue.entries[0].status.due_because is DueBecause.REVIEW_DATE


def test_a_review_moves_the_date_on_and_takes_the_child_off_the_queue(officer: User) -> None:
    child = _child(1, shielded=False)
    _shield(officer, child, review_in_days=5)
    in_a_week = timezone.localdate() + dt.timedelta(days=7)
    assert selectors.overdue_reviews(child.responsible_la_id, today=in_a_week).total_due == 1
    with time_machine.travel(in_a_week, tick=False):
        services.review_shield(
            officer=officer, child=child, reason=ShieldingReason.REFUGE, justification=WHY
        )
        assert selectors.overdue_reviews(child.responsible_la_id).total_due == 0


@pytest.mark.parametrize(
    ("how", "because"),
    [
        ("matching or a bulk load set the flag", DueBecause.NO_DECISION),
        ("a source system's flag", DueBecause.SOURCE_FLAG),
        ("shielded again after an officer unshielded it", DueBecause.UNEXPLAINED),
    ],
)
def test_a_shield_no_officer_has_decided_is_due_at_once(
    officer: User, how: str, because: DueBecause
) -> None:
    child = _child(1, shielded=how.startswith("matching"))
    if how.startswith("a source"):
        services.shield_child(
            officer=None,
            child=child,
            reason="",
            justification="",
            source=DecisionSource.SOURCE_SYSTEM,
            source_system="nw-health",
        )
    if how.startswith("shielded again"):
        _shield(officer, child)
        services.unshield_child(officer=officer, child=child, justification=WHY)
        Child.objects.filter(pk=child.pk).update(is_shielded=True)  # as a feed would
    (entry,) = selectors.overdue_reviews(child.responsible_la_id).entries
    assert entry.status.due_because is because
    assert entry.given_names and entry.date_of_birth == child.date_of_birth


def test_the_queue_holds_only_the_officers_la_and_no_archived_or_unshielded_child(
    officer: User,
) -> None:
    mine = _child(1)
    _child(2, la=BOLTON)
    _child(3, shielded=False)
    archived = _child(4)
    Child.objects.filter(pk=archived.pk).update(
        status=ChildStatus.ARCHIVED, archived_on=timezone.localdate()
    )
    queue = services.read_review_queue(officer=officer)
    assert [e.status.contactpoint_id for e in queue.entries] == [mine.contactpoint_id]


def test_the_queue_is_capped_and_says_how_many_are_due(officer: User) -> None:
    children = [_child(n) for n in range(7)]
    queue = selectors.overdue_reviews(children[0].responsible_la_id, cap=5)
    assert len(queue.entries) == 5 and queue.total_due == 7 and queue.is_capped


def test_most_overdue_come_first(officer: User) -> None:
    late = _child(1, shielded=False)
    later = _child(2, shielded=False)
    _shield(officer, later, review_in_days=20)
    _shield(officer, late, review_in_days=10)
    never = _child(3)  # no decision at all: due since always
    today = timezone.localdate() + dt.timedelta(days=30)
    queue = selectors.overdue_reviews(never.responsible_la_id, today=today)
    assert [e.status.contactpoint_id for e in queue.entries] == [
        never.contactpoint_id,
        late.contactpoint_id,
        later.contactpoint_id,
    ]


def test_reading_the_queue_is_audited_with_the_ids_shown(officer: User) -> None:
    child = _child(1)
    services.read_review_queue(officer=officer, purpose="safeguarding_concern")
    event = AuditEvent.objects.get(action="shielding.queue_viewed")
    assert event.detail == {
        "queue": "reviews",
        "total_due": 1,
        "shown": [child.contactpoint_id],
    }


def test_only_an_las_shielding_officers_have_a_queue(make_person: Callable[..., User]) -> None:
    for role in (Role.PRACTITIONER, Role.NATIONAL_TEAM, Role.SECURITY_OFFICER):
        with pytest.raises(services.NotPermitted):
            services.read_review_queue(officer=person(make_person, role))


# --- The LA report --------------------------------------------------------------------------


def test_the_report_counts_shielded_children_by_reason_and_lists_none(
    officer: User, social_worker: User
) -> None:
    refuge, witness, pending = _child(1, shielded=False), _child(2, shielded=False), _child(3)
    _shield(officer, refuge)
    services.shield_child(
        officer=officer,
        child=witness,
        reason=ShieldingReason.WITNESS_PROTECTION,
        justification=WHY,
        review_on=timezone.localdate() + dt.timedelta(days=20),
    )
    _child(4, la=BOLTON)
    services.grant_break_glass(
        user=social_worker,
        contactpoint_id=pending.contactpoint_id,
        reason="Child reported missing from school, police on the way now",
        purpose="safeguarding_concern",
    )

    report = services.read_la_report(officer=officer)

    counts = dict(report.by_reason)
    assert report.shielded_total == 3
    assert counts["The family is in a refuge"] == 1
    assert counts["Witness protection"] == 1
    assert counts["Risk of abduction"] == 0
    assert counts[selectors.AWAITING_REVIEW_LABEL] == 1
    assert report.reviews_overdue == 1 and report.reviews_due_soon == 1
    assert report.break_glass_uses_past_year == 1 and report.break_glass_alerts_open == 1
    fields = vars(report)
    assert all(isinstance(v, (int, str, list, dt.date)) for v in fields.values())
    assert not any(isinstance(v, Child) for v in fields.values())
    assert AuditEvent.objects.filter(action="shielding.report_viewed").count() == 1


def test_the_report_counts_open_cases(officer: User, practitioner: User) -> None:
    child = _child(1, shielded=False)
    services.ask_to_shield(
        practitioner=practitioner, contactpoint_id=child.contactpoint_id, summary=WHY
    )
    report = selectors.la_report(child.responsible_la_id)
    assert report.open_shielding_requests == 1 and report.open_contact_requests == 0


def test_the_report_warns_when_the_la_has_fewer_than_two_trained_officers(
    officer: User, make_person: Callable[..., User]
) -> None:
    report = selectors.la_report(officer.organisation.local_authority_id)  # type: ignore[union-attr]
    assert report.trained_officers == 1 and report.too_few_officers
    assert "at least two" in web_client(officer).get("/shielding").content.decode()
    person(make_person, Role.SHIELDING_OFFICER)
    person(make_person, Role.SHIELDING_OFFICER, shielding_training_completed_on=None)
    report = selectors.la_report(officer.organisation.local_authority_id)  # type: ignore[union-attr]
    assert report.trained_officers == 2 and not report.too_few_officers
