"""Shielding survives everything: merge, unmerge, feed updates, archiving, and a new source
record that resembles a shielded child (issue 7, item 6), including the 2009 failure replayed:
updating a shielded child from a feed whose details differ slightly must not create an
unshielded duplicate. Uses the feeds engineer's real load path (feeds.loading.load_file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone
from tests.feeds.conftest import amelia, write_csv, years_ago
from tests.shielding.support import person

from contactpoint.access.models import User
from contactpoint.access.policy import ViewMode, view_mode, viewer_for
from contactpoint.access.roles import Role
from contactpoint.feeds import review
from contactpoint.feeds.loading import load_file
from contactpoint.feeds.models import ReviewItem, ReviewKind, SourceRecord, SourceSystem
from contactpoint.index.models import Child
from contactpoint.index.vocabularies import ChildStatus
from contactpoint.shielding import selectors, services
from contactpoint.shielding.models import ShieldingDecision
from contactpoint.shielding.selectors import DueBecause
from contactpoint.shielding.vocabularies import DecisionKind, DecisionSource, ShieldingReason

pytestmark = pytest.mark.django_db
WHY = "Family moved to a refuge after threats from a former partner"
BORN = years_ago(7, 3, 4)  # a date whose day and month can be swapped


def row(**changes: str) -> dict[str, str]:
    """Amelia O'Neill as a feed row (tests.feeds), born on BORN unless changed."""
    return amelia(**{"date_of_birth": BORN, **changes})


@pytest.fixture
def dq_officer(make_person: Callable[..., User]) -> User:
    return person(make_person, Role.DATA_QUALITY_OFFICER)


def _load(source: SourceSystem, tmp_path: Path, name: str, *rows: dict[str, str]) -> list[str]:
    load = load_file(source=source, path=write_csv(tmp_path / name, list(rows))).load
    return list(load.rows.order_by("line").values_list("outcome", flat=True))


def _shield(officer: User, child: Child) -> ShieldingDecision:
    return services.shield_child(
        officer=officer, child=child, reason=ShieldingReason.REFUGE, justification=WHY
    )


def _assert_shield_kept(outcome: str, shielded: Child) -> None:
    """The rule for a record that resembles a shielded child: linked, sent to review, or a new
    child shielded as a precaution with a possible-duplicate item naming both; never a new
    unshielded child."""
    assert outcome in {"linked", "review", "new"}
    assert not Child.objects.filter(is_shielded=False).exists()
    if outcome == "new":
        created = Child.objects.exclude(pk=shielded.pk).get()
        item = ReviewItem.objects.get(kind=ReviewKind.POSSIBLE_DUPLICATE)
        assert item.involves_shielded
        assert {item.child_id, item.other_child_id} == {created.pk, shielded.pk}
        decision = ShieldingDecision.objects.filter(child=created).get()
        assert decision.kind == DecisionKind.SHIELD and "precaution" in decision.justification
        assert decision.review_on <= timezone.localdate()  # an officer looks at once


def _restricted_for(user: User, child: Child) -> bool:
    child.refresh_from_db()
    return view_mode(viewer_for(user), child) is ViewMode.RESTRICTED


# --- Merge and unmerge ---------------------------------------------------------------------------


def test_a_merge_keeps_the_shield_and_its_decision_and_asks_for_a_review(
    officer: User, dq_officer: User, practitioner: User, education: SourceSystem, tmp_path: Path
) -> None:
    _load(
        education,
        tmp_path,
        "a.csv",
        row(),
        row(source_record_id="MCR-2", given_names="Bella", date_of_birth=years_ago(5)),
    )
    shielded, other = Child.objects.order_by("pk")
    decision = _shield(officer, shielded)

    # The unshielded child survives; the shielded one is absorbed into it.
    merge = review.merge_children(
        officer=dq_officer, survivor=other, absorbed=shielded, reason="same child"
    )

    survivor = Child.objects.get(pk=merge.survivor_id)
    assert survivor.is_shielded and _restricted_for(practitioner, survivor)
    decision.refresh_from_db()
    assert decision.child_id == survivor.pk  # the history moved with the child
    status = selectors.status_of(survivor)
    assert status.reason == ShieldingReason.REFUGE
    assert status.due_because is DueBecause.MERGED_SINCE and status.is_due(timezone.localdate())


def test_an_unmerge_leaves_both_halves_shielded_and_both_due_for_review(
    officer: User, dq_officer: User, practitioner: User, education: SourceSystem, tmp_path: Path
) -> None:
    _load(
        education,
        tmp_path,
        "a.csv",
        row(),
        row(source_record_id="MCR-2", given_names="Bella", date_of_birth=years_ago(5)),
    )
    survivor, absorbed = Child.objects.order_by("pk")
    _shield(officer, survivor)
    merge = review.merge_children(
        officer=dq_officer, survivor=survivor, absorbed=absorbed, reason="same child"
    )

    restored = review.unmerge(officer=dq_officer, merge=merge)

    survivor.refresh_from_db()
    assert survivor.is_shielded and restored.is_shielded
    assert _restricted_for(practitioner, survivor) and _restricted_for(practitioner, restored)
    due = {
        e.status.contactpoint_id
        for e in selectors.overdue_reviews(survivor.responsible_la_id).entries
    }
    assert due == {survivor.contactpoint_id, restored.contactpoint_id}


# --- Feed updates --------------------------------------------------------------------------------


def test_a_feed_never_removes_a_shield_a_source_asked_for(
    officer: User, health: SourceSystem, practitioner: User, tmp_path: Path
) -> None:
    _load(health, tmp_path, "1.csv", row(source_record_id="NHS-1", sensitive_record="yes"))
    child = Child.objects.get()
    assert child.is_shielded
    services.review_shield(
        officer=officer, child=child, reason=ShieldingReason.RISK_OF_ABDUCTION, justification=WHY
    )

    outcomes = _load(
        health,
        tmp_path,
        "2.csv",
        row(source_record_id="NHS-1", sensitive_record="no", postcode="M20 2QQ"),
    )

    assert outcomes == ["linked"]
    assert _restricted_for(practitioner, child)
    latest = selectors.status_of(child).latest
    assert latest is not None and latest.kind == DecisionKind.CONFIRM


def test_a_source_flag_shields_on_arrival_with_a_decision_due_for_review(
    health: SourceSystem, practitioner: User, tmp_path: Path
) -> None:
    outcomes = _load(
        health, tmp_path, "1.csv", row(source_record_id="NHS-1", sensitive_record="yes")
    )

    child = Child.objects.get()
    assert outcomes == ["new"] and _restricted_for(practitioner, child)
    decision = ShieldingDecision.objects.get(child=child)
    assert decision.kind == DecisionKind.SHIELD
    assert decision.source == DecisionSource.SOURCE_SYSTEM
    assert decision.source_system == health.code and decision.decided_by is None
    assert decision.review_on is not None and decision.review_on <= timezone.localdate()


def test_an_officers_unshield_stands_until_a_source_raises_its_flag_again(
    officer: User, health: SourceSystem, practitioner: User, tmp_path: Path
) -> None:
    flagged = row(source_record_id="NHS-1", sensitive_record="yes")
    _load(health, tmp_path, "1.csv", flagged)
    child = Child.objects.get()
    services.unshield_child(officer=officer, child=child, justification=WHY)

    # An update that still carries the flag the officer has already weighed.
    _load(health, tmp_path, "2.csv", {**flagged, "postcode": "M20 2QQ"})
    assert not _restricted_for(practitioner, child)

    # The source withdraws the flag, then raises it again: a new request, shielded at once.
    _load(health, tmp_path, "3.csv", {**flagged, "sensitive_record": "no"})
    _load(health, tmp_path, "4.csv", flagged)
    assert _restricted_for(practitioner, child)
    latest = selectors.status_of(child).latest
    assert latest is not None and latest.source == DecisionSource.SOURCE_SYSTEM


def test_withdrawing_the_flagging_source_record_keeps_the_shield(
    education: SourceSystem, health: SourceSystem, practitioner: User, tmp_path: Path
) -> None:
    _load(education, tmp_path, "1.csv", row())
    assert _load(
        health, tmp_path, "2.csv", row(source_record_id="NHS-1", sensitive_record="yes")
    ) == ["linked"]
    child = Child.objects.get()

    # The source that asked for the shield withdraws its record altogether.
    outcomes = _load(
        health, tmp_path, "3.csv", {"source_record_id": "NHS-1", "event_type": "withdraw"}
    )

    assert outcomes == ["linked"]
    assert SourceRecord.objects.get(source_record_id="NHS-1").state == "withdrawn"
    assert list(Child.objects.values_list("pk", "is_shielded")) == [(child.pk, True)]
    assert _restricted_for(practitioner, child)


def test_a_feed_update_never_removes_a_shield_an_officer_put_on(
    officer: User, education: SourceSystem, practitioner: User, tmp_path: Path
) -> None:
    _load(education, tmp_path, "1.csv", row())
    child = Child.objects.get()
    _shield(officer, child)

    outcomes = _load(
        education, tmp_path, "2.csv", row(address_line_1="9 Larch Avenue", postcode="M13 0PL")
    )

    assert outcomes == ["linked"]
    assert Child.objects.count() == 1 and _restricted_for(practitioner, child)
    assert selectors.status_of(child).due_because is DueBecause.REVIEW_DATE


# --- Archiving -----------------------------------------------------------------------------------


def test_archiving_keeps_the_shield(
    officer: User, dq_officer: User, make_person: Callable[..., User], hidden_child: Child
) -> None:
    services.review_shield(
        officer=officer, child=hidden_child, reason=ShieldingReason.REFUGE, justification=WHY
    )
    # As lifecycle archives a record at 18: only the status and date change.
    Child.objects.filter(pk=hidden_child.pk).update(
        status=ChildStatus.ARCHIVED, archived_on=timezone.localdate()
    )
    hidden_child.refresh_from_db()
    assert hidden_child.is_shielded
    # The data managers who may still see an archived record see it restricted.
    assert _restricted_for(dq_officer, hidden_child)
    national = person(make_person, Role.NATIONAL_TEAM)
    assert view_mode(viewer_for(national), hidden_child) is ViewMode.FULL


def test_a_feed_update_after_archiving_keeps_the_shield(
    officer: User, dq_officer: User, health: SourceSystem, tmp_path: Path
) -> None:
    flagged = row(source_record_id="NHS-1", sensitive_record="yes")
    _load(health, tmp_path, "1.csv", flagged)
    child = Child.objects.get()
    services.review_shield(
        officer=officer, child=child, reason=ShieldingReason.REFUGE, justification=WHY
    )
    Child.objects.filter(pk=child.pk).update(
        status=ChildStatus.ARCHIVED, archived_on=timezone.localdate()
    )

    # The source withdraws its flag and reports a move, after the record was archived.
    _load(
        health,
        tmp_path,
        "2.csv",
        {**flagged, "sensitive_record": "no", "address_line_1": "9 Larch Avenue"},
    )

    assert list(Child.objects.values_list("pk", "is_shielded")) == [(child.pk, True)]
    assert _restricted_for(dq_officer, child)


# --- A new record resembling a shielded child: the 2009 failure replayed --------------------------


VARIANTS = {
    "a typing error in the names": {"given_names": "Amelai Rose", "family_name": "ONeill"},
    "a new surname and a move": {"family_name": "Hughes", "postcode": "M20 2QQ"},
    "day and month swapped": {"date_of_birth": years_ago(7, 4, 3)},
    "a nickname and no address": {
        "given_names": "Millie",
        "address_line_1": "",
        "town": "",
        "postcode": "",
    },
    "a wrong digit in the date of birth and a new surname": {
        "date_of_birth": years_ago(7, 3, 5),
        "family_name": "Hughes",
    },
}


@pytest.mark.parametrize("changes", list(VARIANTS.values()), ids=list(VARIANTS))
def test_the_2009_failure_a_slightly_different_record_of_an_officer_shielded_child(
    officer: User,
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    changes: dict[str, str],
) -> None:
    _load(education, tmp_path, "1.csv", row())
    shielded = Child.objects.get()
    _shield(officer, shielded)  # shielded by an officer: no source ever flagged it

    outcomes = _load(health, tmp_path, "2.csv", row(source_record_id="NHS-77", **changes))

    assert outcomes[0] in {"linked", "review"}
    assert not Child.objects.filter(is_shielded=False).exists()
    if outcomes[0] == "review":
        item = ReviewItem.objects.get()
        assert item.involves_shielded


def test_the_2009_failure_the_same_source_updating_its_record_with_small_changes(
    officer: User, education: SourceSystem, tmp_path: Path
) -> None:
    _load(education, tmp_path, "1.csv", row())
    shielded = Child.objects.get()
    _shield(officer, shielded)

    outcomes = _load(
        education, tmp_path, "2.csv", row(given_names="Amelia R", family_name="O Neill")
    )

    assert outcomes == ["linked"]
    assert list(Child.objects.values_list("pk", "is_shielded")) == [(shielded.pk, True)]


# A report from a source that never heard of the move to a refuge: a new surname, a new
# address, a mistyped date of birth, no school.
MOVED = {
    "family_name": "Hughes",
    "date_of_birth": years_ago(7, 3, 5),
    "address_line_1": "Flat 2, Beech Court",
    "postcode": "M14 7QR",
    "school_urn": "",
    "school_start_date": "",
}


def test_the_2009_failure_the_same_report_naming_another_carer_is_not_a_new_unshielded_child(
    officer: User, education: SourceSystem, health: SourceSystem, tmp_path: Path
) -> None:
    _load(education, tmp_path, "1.csv", row())
    shielded = Child.objects.get()
    _shield(officer, shielded)
    father = {
        "carer_1_given_names": "Dave",
        "carer_1_family_name": "Hughes",
        "carer_1_relationship": "father",
    }

    outcomes = _load(health, tmp_path, "2.csv", row(source_record_id="NHS-9", **MOVED, **father))

    _assert_shield_kept(outcomes[0], shielded)


def test_a_child_a_flag_shields_in_one_batch_is_guarded_in_the_next_batch_of_the_load(
    education: SourceSystem, health: SourceSystem, tmp_path: Path
) -> None:
    _load(education, tmp_path, "1.csv", row())
    child = Child.objects.get()
    # Batch 1 links the health record and its flag shields the child; batch 2 is the same
    # child in hiding from another source record (new surname, address, carer, one digit).
    father = {"carer_1_given_names": "Dave", "carer_1_family_name": "Hughes"}
    rows = [
        row(source_record_id="NHS-1", sensitive_record="yes"),
        row(source_record_id="NHS-9", **MOVED, **father),
    ]
    load = load_file(source=health, path=write_csv(tmp_path / "2.csv", rows), batch_size=1).load

    child.refresh_from_db()
    assert child.is_shielded
    outcomes = list(load.rows.order_by("line").values_list("outcome", flat=True))
    assert outcomes[0] == "linked"
    _assert_shield_kept(outcomes[1], child)


def test_a_resembling_record_made_a_new_child_by_a_person_is_shielded_and_queued(
    officer: User,
    dq_officer: User,
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
) -> None:
    _load(education, tmp_path, "1.csv", row())
    shielded = Child.objects.get()
    _shield(officer, shielded)
    outcomes = _load(health, tmp_path, "2.csv", row(source_record_id="NHS-9", **MOVED))
    assert outcomes == ["review"]

    created = review.create_child_from_record(officer=dq_officer, item=ReviewItem.objects.get())

    assert created.is_shielded
    queued = {
        e.status.contactpoint_id: e
        for e in selectors.overdue_reviews(shielded.responsible_la_id).entries
    }
    assert queued[created.contactpoint_id].status.due_because is DueBecause.NO_DECISION
