"""The index's linkage writes: one record from many reports, merge, unmerge, and the shield."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.utils import timezone
from tests.index.records import MANCHESTER, child_record

from contactpoint.index import linkage
from contactpoint.index.linkage import FieldPrecedence, merge_reports
from contactpoint.index.models import (
    Address,
    Child,
    ChildFieldSource,
    ChildMerge,
    ChildName,
    Involvement,
)
from contactpoint.index.records import AddressRecord, ChildRecord, NameRecord, SourceRef
from contactpoint.index.vocabularies import AddressKind, ChildStatus, NameKind, ServiceType

HEALTH, EDUCATION, BENEFIT = "nw-health", "mcr-education", "nw-benefit"
FEEDS = (HEALTH, EDUCATION, BENEFIT)
# Health wins names; nobody is ranked for addresses, so the most recent report wins those.
PRECEDENCE = FieldPrecedence(
    ranks={"name": {HEALTH: 0, EDUCATION: 1, BENEFIT: 2}, "date_of_birth": {HEALTH: 0}}
)


def report(source: str, record_id: str, *, days_ago: int = 0, **changes: object) -> ChildRecord:
    received = timezone.now() - dt.timedelta(days=days_ago)
    base = child_record(source=SourceRef(source, record_id, received))
    return dataclasses.replace(base, **changes)


def names_of(child: Child) -> set[tuple[str, str, str]]:
    return set(child.names.values_list("kind", "given_names", "family_name"))


# --- merge_reports ---------------------------------------------------------------------------


def test_the_name_comes_from_the_highest_precedence_source_and_others_become_aliases() -> None:
    merged = merge_reports(
        [
            report(EDUCATION, "E1", names=(NameRecord("Millie", "O'Neill"),)),
            report(HEALTH, "H1", days_ago=30, names=(NameRecord("Amelia Rose", "O'Neill"),)),
        ],
        PRECEDENCE,
    )
    assert [(n.kind, n.given_names) for n, _ in merged.names] == [
        (NameKind.CURRENT, "Amelia Rose"),
        (NameKind.ALIAS, "Millie"),
    ]
    assert merged.names[0][1].source_system == HEALTH


def test_an_unranked_field_goes_to_the_most_recent_report() -> None:
    old = AddressRecord(line_1="2 Mill Lane", town="Manchester", postcode="M20 2QQ")
    new = AddressRecord(line_1="14 Victoria Road", town="Manchester", postcode="M14 5AB")
    merged = merge_reports(
        [
            report(HEALTH, "H1", days_ago=60, addresses=(old,)),
            report(BENEFIT, "B1", days_ago=1, addresses=(new,)),
        ],
        PRECEDENCE,
    )
    kinds = {(a.postcode, a.kind) for a, _ in merged.addresses}
    assert kinds == {("M14 5AB", AddressKind.CURRENT), ("M20 2QQ", AddressKind.PREVIOUS)}


def test_death_is_kept_whoever_reports_it_and_whenever() -> None:
    died = timezone.localdate() - dt.timedelta(days=10)
    merged = merge_reports(
        [
            report(BENEFIT, "B1", days_ago=20, status=ChildStatus.DECEASED, died_on=died),
            report(EDUCATION, "E1", days_ago=0),
        ],
        PRECEDENCE,
    )
    assert (merged.status, merged.died_on) == (ChildStatus.DECEASED, died)


def test_a_shield_requested_by_any_source_is_kept() -> None:
    merged = merge_reports(
        [report(HEALTH, "H1", is_shielded=True), report(EDUCATION, "E1")], PRECEDENCE
    )
    assert merged.shield_requested


def test_only_one_current_lead_professional_survives_two_sources_naming_one_each() -> None:
    one = child_record().involvements[0]  # a SENCO who is lead professional
    merged = merge_reports(
        [report(EDUCATION, "E1", involvements=(one,)), report(HEALTH, "H1", involvements=(one,))],
        PRECEDENCE,
    )
    assert sum(i.is_lead_professional for i, _ in merged.involvements) == 1


def test_the_same_reports_always_give_the_same_record() -> None:
    reports = [report(HEALTH, "H1", days_ago=3), report(BENEFIT, "B1"), report(EDUCATION, "E1")]
    assert merge_reports(reports, PRECEDENCE) == merge_reports(reports[::-1], PRECEDENCE)


# --- writing, merging, unmerging ------------------------------------------------------------------


def create(*reports: ChildRecord) -> Child:
    return linkage.create_child_from_reports(
        reports=list(reports), precedence=PRECEDENCE, feed_sources=FEEDS
    )


@pytest.mark.django_db
def test_a_child_created_from_reports_has_provenance_for_every_field() -> None:
    child = create(report(HEALTH, "H1"), report(EDUCATION, "E1"))
    sources = dict(child.field_sources.values_list("field", "source_system"))
    assert sources["date_of_birth"] == HEALTH
    assert child.names.get(kind=NameKind.CURRENT).source_system == HEALTH
    assert child.addresses.filter(kind=AddressKind.CURRENT).count() == 1


@pytest.mark.django_db
def test_rebuilding_replaces_feed_parts_but_keeps_a_practitioners_own_involvement() -> None:
    child = create(report(HEALTH, "H1"))
    Involvement.objects.create(
        child=child,
        service_type=ServiceType.YOUTH_WORKER,
        organisation_name="Rusholme Youth Project",
        phone="0161 496 0321",
        started_on=timezone.localdate(),
        source_system="contactpoint",
        source_record_id="practitioner-17",
    )
    linkage.rebuild_child(
        child=child,
        reports=[report(HEALTH, "H1", names=(NameRecord("Amelia", "Hughes"),))],
        precedence=PRECEDENCE,
        feed_sources=FEEDS,
    )
    assert names_of(child) == {(NameKind.CURRENT, "Amelia", "Hughes")}
    assert child.involvements.filter(source_system="contactpoint").exists()


def reports_by_record(*children_reports: tuple[Child, list[ChildRecord]]):
    """A reports_of callback for merge/unmerge: the reports each child's records carry."""
    table: dict[str, list[ChildRecord]] = {}
    for child, reps in children_reports:
        table[child.contactpoint_id] = reps

    def reports_of(child: Child) -> list[ChildRecord]:
        return table.get(child.contactpoint_id, [])

    return table, reports_of


@pytest.mark.django_db
def test_merge_keeps_the_shield_and_redirects_the_absorbed_id() -> None:
    shielded = create(report(HEALTH, "H1", is_shielded=True))
    duplicate = create(report(EDUCATION, "E1"))
    absorbed_id = duplicate.contactpoint_id
    _, reports_of = reports_by_record(
        (duplicate, [report(HEALTH, "H1", is_shielded=True), report(EDUCATION, "E1")])
    )
    merge = linkage.merge_children(
        survivor=duplicate,
        absorbed=shielded,
        reports_of=reports_of,
        precedence=PRECEDENCE,
        feed_sources=FEEDS,
        merged_by="dqo",
        reason="same child",
    )
    survivor = Child.objects.get(pk=duplicate.pk)
    assert survivor.is_shielded
    assert not Child.objects.filter(pk=shielded.pk).exists()
    assert linkage.resolve_contactpoint_id(merge.absorbed_contactpoint_id) == survivor
    assert linkage.resolve_contactpoint_id(absorbed_id) == survivor


@pytest.mark.django_db
def test_unmerge_restores_the_absorbed_child_under_its_own_id_with_both_halves_shielded() -> None:
    first = create(report(HEALTH, "H1", is_shielded=True))
    second = create(report(EDUCATION, "E1", names=(NameRecord("Ben", "O'Neill"),)))
    first_id = first.contactpoint_id
    Involvement.objects.create(
        child=first,
        service_type=ServiceType.YOUTH_WORKER,
        organisation_name="Rusholme Youth Project",
        phone="0161 496 0321",
        started_on=timezone.localdate(),
        source_system="contactpoint",
        source_record_id="practitioner-17",
    )
    together = [report(HEALTH, "H1", is_shielded=True), report(EDUCATION, "E1")]
    table, reports_of = reports_by_record((second, together))
    merge = linkage.merge_children(
        survivor=second,
        absorbed=first,
        reports_of=reports_of,
        precedence=PRECEDENCE,
        feed_sources=FEEDS,
        merged_by="dqo",
        reason="looked the same",
    )
    assert Involvement.objects.get(source_record_id="practitioner-17").child_id == second.pk

    table[second.contactpoint_id] = [report(EDUCATION, "E1", names=(NameRecord("Ben", "O'Neill"),))]
    table[first_id] = [report(HEALTH, "H1", is_shielded=True)]
    restored = linkage.unmerge_children(
        merge=merge,
        reports_of=reports_of,
        precedence=PRECEDENCE,
        feed_sources=FEEDS,
        unmerged_by="dqo",
    )
    assert restored.contactpoint_id == first_id
    assert Child.objects.get(pk=second.pk).is_shielded and restored.is_shielded
    assert Involvement.objects.get(source_record_id="practitioner-17").child_id == restored.pk
    assert names_of(Child.objects.get(pk=second.pk)) == {(NameKind.CURRENT, "Ben", "O'Neill")}
    assert ChildMerge.objects.get(pk=merge.pk).unmerged_at is not None
    with pytest.raises(ValueError, match="already been undone"):
        linkage.unmerge_children(
            merge=merge,
            reports_of=reports_of,
            precedence=PRECEDENCE,
            feed_sources=FEEDS,
            unmerged_by="dqo",
        )


@pytest.mark.django_db
def test_merging_two_children_with_their_own_current_names_keeps_one_current_name() -> None:
    first = create(report(HEALTH, "H1"))
    second = create(report(EDUCATION, "E1"))
    ChildName.objects.filter(child=first).update(source_system="contactpoint")  # not a feed part
    _, reports_of = reports_by_record((second, [report(EDUCATION, "E1")]))
    linkage.merge_children(
        survivor=second,
        absorbed=first,
        reports_of=reports_of,
        precedence=PRECEDENCE,
        feed_sources=FEEDS,
        merged_by="dqo",
        reason="same",
    )
    assert ChildName.objects.filter(child=second, kind=NameKind.CURRENT).count() == 1


@pytest.mark.django_db
def test_reserved_children_get_fresh_valid_ids() -> None:
    from contactpoint.index.contactpoint_id import is_valid

    reserved = linkage.reserve_children(25)
    assert len({cp for _, cp in reserved}) == 25 and all(is_valid(cp) for _, cp in reserved)
    assert len({child_id for child_id, _ in reserved}) == 25


@pytest.mark.django_db
def test_field_sources_are_rewritten_not_duplicated_on_rebuild() -> None:
    child = create(report(HEALTH, "H1"))
    for _ in range(2):
        linkage.rebuild_child(
            child=child,
            reports=[report(HEALTH, "H1"), report(EDUCATION, "E1")],
            precedence=PRECEDENCE,
            feed_sources=FEEDS,
        )
    assert ChildFieldSource.objects.filter(child=child).count() == 5
    assert Address.objects.filter(child=child, kind=AddressKind.CURRENT).count() == 1
    assert Child.objects.get(pk=child.pk).responsible_la.ons_code == MANCHESTER
