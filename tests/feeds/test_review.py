"""The review queue: officers of the responsible LA decide; every decision is audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.feeds.conftest import amelia, write_csv, years_ago

from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent
from contactpoint.feeds import review
from contactpoint.feeds.loading import load_file
from contactpoint.feeds.models import ReviewItem, SourceRecord, SourceSystem
from contactpoint.index.linkage import resolve_contactpoint_id
from contactpoint.index.models import Child, ChildMerge

pytestmark = pytest.mark.django_db

AMELIA_DOB = years_ago(7, 3, 4)


def unsure_health_record(**changes: str) -> dict[str, str]:
    """Amelia as health sees her, but with another NHS number than education holds for her.

    Everything else agrees, so only the NHS numbers stop an automatic link: a rule, not a
    weight, sends it to review, so these tests do not depend on the trained model's numbers.
    """
    row = amelia(
        source_record_id="NHS-5",
        given_names="Millie",
        date_of_birth=AMELIA_DOB,
        school_urn="",
        school_start_date="",
        nhs_number="9434765870",
    )
    row.update(changes)
    return row


def education_amelia(**changes: str) -> dict[str, str]:
    return amelia(**{"date_of_birth": AMELIA_DOB, "nhs_number": "9434765919", **changes})


@pytest.fixture
def item(education: SourceSystem, health: SourceSystem, tmp_path: Path) -> ReviewItem:
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [education_amelia()]))
    load = load_file(
        source=health, path=write_csv(tmp_path / "h.csv", [unsure_health_record()])
    ).load
    assert load.rows.get().outcome == "review", load.rows.get().reason
    return ReviewItem.objects.get()


@pytest.fixture
def officer(make_person: Callable[..., User]) -> User:
    return make_person(role=Role.DATA_QUALITY_OFFICER)


@pytest.fixture
def bolton_officer(make_person: Callable[..., User]) -> User:
    bolton = Organisation.objects.get(kind="local_authority", name="Bolton")
    return make_person(role=Role.DATA_QUALITY_OFFICER, organisation=bolton)


def test_the_item_is_in_the_queue_of_the_responsible_las_officers_only(
    item: ReviewItem, officer: User, bolton_officer: User, make_person: Callable[..., User]
) -> None:
    assert list(review.open_items_for(officer)) == [item]
    assert list(review.open_items_for(bolton_officer)) == []
    assert list(review.open_items_for(make_person(role=Role.PRACTITIONER))) == []
    assert review.get_item_for(officer, review.item_reference(item)) == item
    assert review.get_item_for(bolton_officer, review.item_reference(item)) is None


def test_the_item_explains_each_candidate_field_by_field(item: ReviewItem) -> None:
    (candidate,) = review.candidates_of(item)
    assert candidate.child is not None
    fields = {f["comparison"]: f["level"] for f in candidate.fields}
    assert fields["name"] == "family_exact_given_familiar"
    assert fields["nhs_number"] == "else"
    assert "NHS numbers differ" in item.reason


def test_linking_rebuilds_the_child_closes_the_item_and_is_audited(
    item: ReviewItem, officer: User
) -> None:
    child = Child.objects.get()
    review.link_record(officer=officer, item=item, child=child)
    assert SourceRecord.objects.get(source_record_id="NHS-5").child == child
    assert child.names.filter(given_names="Millie").exists()
    item.refresh_from_db()
    assert (item.status, item.decision, item.decided_by) == ("decided", "linked", officer)
    event = AuditEvent.objects.get(action=review.AuditAction.LINKED)
    assert event.actor_id == officer.pk and event.subject_contactpoint_id == child.contactpoint_id
    with pytest.raises(review.ReviewRefused, match="already been decided"):
        review.link_record(officer=officer, item=item, child=child)


def test_an_officer_of_another_la_may_not_decide(item: ReviewItem, bolton_officer: User) -> None:
    with pytest.raises(review.ReviewRefused, match="another local authority"):
        review.link_record(officer=bolton_officer, item=item, child=Child.objects.get())
    assert not AuditEvent.objects.filter(action=review.AuditAction.LINKED).exists()


def test_linking_to_a_child_that_was_not_a_candidate_is_refused(
    item: ReviewItem, officer: User, education: SourceSystem, tmp_path: Path
) -> None:
    other = amelia(source_record_id="MCR-2", given_names="Oscar", family_name="Nakamura")
    load_file(source=education, path=write_csv(tmp_path / "o.csv", [other]))
    stranger = Child.objects.exclude(pk=item.candidates[0]["child_id"]).get()
    with pytest.raises(review.ReviewRefused, match="one of the candidates"):
        review.link_record(officer=officer, item=item, child=stranger)


def test_creating_a_new_child_from_an_item_about_a_shielded_child_creates_it_shielded(
    education: SourceSystem, health: SourceSystem, officer: User, tmp_path: Path
) -> None:
    flagged = education_amelia(sensitive_record="yes")
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [flagged]))
    load_file(source=health, path=write_csv(tmp_path / "h.csv", [unsure_health_record()]))
    item = ReviewItem.objects.get()
    assert item.involves_shielded
    child = review.create_child_from_record(officer=officer, item=item)
    assert child.is_shielded and Child.objects.filter(is_shielded=False).count() == 0
    event = AuditEvent.objects.get(action=review.AuditAction.CREATED)
    assert event.detail["shielded_as_precaution"] is True


def test_merge_and_unmerge_through_the_queue_keep_the_shield_and_are_audited(
    education: SourceSystem, health: SourceSystem, officer: User, tmp_path: Path
) -> None:
    load_file(
        source=education,
        path=write_csv(tmp_path / "e.csv", [education_amelia(sensitive_record="yes")]),
    )
    load_file(source=health, path=write_csv(tmp_path / "h.csv", [unsure_health_record()]))
    item = ReviewItem.objects.get()
    second = review.create_child_from_record(officer=officer, item=item)
    first = Child.objects.exclude(pk=second.pk).get()

    merge = review.merge_children(
        officer=officer, survivor=first, absorbed=second, reason="same girl"
    )
    assert Child.objects.count() == 1 and Child.objects.get().is_shielded
    assert resolve_contactpoint_id(second.contactpoint_id) == first
    assert SourceRecord.objects.filter(child=first).count() == 2
    assert AuditEvent.objects.get(action=review.AuditAction.MERGED).detail["absorbed"] == (
        second.contactpoint_id
    )

    restored = review.unmerge(officer=officer, merge=merge)
    assert restored.contactpoint_id == second.contactpoint_id
    assert Child.objects.count() == 2 and not Child.objects.filter(is_shielded=False).exists()
    assert SourceRecord.objects.get(source_record_id="NHS-5").child == restored
    assert ChildMerge.objects.get().unmerged_by == officer.username
    assert AuditEvent.objects.filter(action=review.AuditAction.UNMERGED).count() == 1


def test_a_wrong_automatic_link_can_be_undone_by_detaching_the_record(
    education: SourceSystem, health: SourceSystem, officer: User, tmp_path: Path
) -> None:
    load_file(
        source=education, path=write_csv(tmp_path / "e.csv", [amelia(date_of_birth=AMELIA_DOB)])
    )
    linked = amelia(source_record_id="NHS-9", date_of_birth=AMELIA_DOB, given_names="Amelia")
    load_file(source=health, path=write_csv(tmp_path / "h.csv", [linked]))
    record = SourceRecord.objects.get(source_record_id="NHS-9")
    original = record.child
    assert original is not None
    new_child = review.detach_record(officer=officer, record=record)
    assert new_child != original and Child.objects.count() == 2
    assert not original.names.filter(source_system="nw-health").exists()
    assert AuditEvent.objects.get(action=review.AuditAction.DETACHED).detail["new_child"] == (
        new_child.contactpoint_id
    )


def test_only_data_quality_officers_decide(
    item: ReviewItem, make_person: Callable[..., User]
) -> None:
    practitioner = make_person(role=Role.PRACTITIONER)
    with pytest.raises(review.ReviewRefused, match="data-quality officers"):
        review.create_child_from_record(officer=practitioner, item=item)
