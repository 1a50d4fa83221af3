"""Loading feeds: outcomes, the load report, idempotency, bad rows, shielding, crashes."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from tests.feeds.conftest import amelia, write_csv, write_jsonl, years_ago

from contactpoint.audit.models import AuditEvent
from contactpoint.feeds import loading
from contactpoint.feeds.loading import linked_by_nhs_hash, load_file, write_report
from contactpoint.feeds.models import (
    FeedLoad,
    LoadRow,
    LoadStatus,
    ReviewItem,
    ReviewKind,
    SourceRecord,
    SourceRecordState,
    SourceSystem,
)
from contactpoint.index.linkage import insert_rows
from contactpoint.index.models import (
    Address,
    Carer,
    Child,
    ChildFieldSource,
    ChildName,
    GpRegistration,
    Involvement,
    SchoolEnrolment,
)
from contactpoint.index.vocabularies import AddressKind, NameKind
from contactpoint.shielding.models import ShieldingDecision
from contactpoint.shielding.vocabularies import DecisionSource

pytestmark = pytest.mark.django_db

BEN = {"given_names": "Ben", "gender": "male", "date_of_birth": years_ago(9, 6, 2)}


def outcomes(load: FeedLoad) -> list[tuple[int, str, str]]:
    return list(load.rows.order_by("line").values_list("line", "outcome", "reason"))


def index_snapshot() -> dict[str, Any]:
    """Everything a load could change in the index, for 'nothing changed' assertions."""
    return {
        model.__name__: sorted(
            tuple(v for k, v in row.items() if k not in {"id", "updated_at"})
            for row in model.objects.values()
        )
        for model in (
            Child,
            ChildName,
            Address,
            Carer,
            SchoolEnrolment,
            GpRegistration,
            Involvement,
            ChildFieldSource,
        )
    }


def test_a_first_load_creates_a_child_per_record_and_reports_each_row(
    education: SourceSystem, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "first.csv", [amelia(), amelia(source_record_id="MCR-2", **BEN)])
    load = load_file(source=education, path=path).load
    assert load.status == LoadStatus.COMPLETED
    assert (load.rows_new, load.rows_rejected) == (2, 0)
    assert Child.objects.count() == 2
    rows = list(load.rows.order_by("line"))
    assert [r.line for r in rows] == [2, 3]
    assert all(len(r.contactpoint_id) == 12 for r in rows)
    assert SourceRecord.objects.get(source_record_id="MCR-000123").child.contactpoint_id == (
        rows[0].contactpoint_id
    )


def test_the_load_report_is_a_csv_with_the_issue_columns(
    education: SourceSystem, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "f.csv", [amelia(), amelia(source_record_id="MCR-2", date_of_birth="bad")]
    )
    load = load_file(source=education, path=path).load
    out = io.StringIO()
    assert write_report(load, out) == 2
    report = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(report[0]) == [
        "line", "source_record_id", "outcome", "contactpoint_id", "match_weight", "reason",
    ]  # fmt: skip
    assert report[0]["outcome"] == "new" and "-" in report[0]["contactpoint_id"]
    assert report[1]["outcome"] == "rejected" and "date_of_birth" in report[1]["reason"]


def test_a_second_source_reporting_the_same_child_links_with_a_weight_and_an_explanation(
    education: SourceSystem, health: SourceSystem, tmp_path: Path
) -> None:
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [amelia()]))
    health_row = amelia(
        source_record_id="NHS-77", given_names="Amelia", family_name="O'Neil", school_urn=""
    )
    load = load_file(source=health, path=write_csv(tmp_path / "h.csv", [health_row])).load
    row = load.rows.get()
    assert row.outcome == "linked" and row.match_weight is not None and row.match_weight > 0
    assert Child.objects.count() == 1
    record = SourceRecord.objects.get(source_record_id="NHS-77")
    levels = {f["comparison"]: f["level"] for f in record.match_explanation["fields"]}
    assert levels["date_of_birth"] == "exact"
    assert levels["name"] == "given_exact_family_similar"
    assert round(sum(f["weight"] for f in record.match_explanation["fields"]), 2) == round(
        record.match_explanation["weight"] - record.match_explanation["prior_weight"], 2
    )
    child = Child.objects.get()
    # Health registration wins the name (feeds/precedence.py); education's becomes an alias.
    assert child.names.get(kind=NameKind.CURRENT).family_name == "O'Neil"
    assert child.names.filter(kind=NameKind.ALIAS, family_name="O'Neill").exists()


def test_linking_a_report_rewrites_only_the_rows_it_changes(
    education: SourceSystem, health: SourceSystem, tmp_path: Path
) -> None:
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [amelia()]))
    enrolment = SchoolEnrolment.objects.get()
    health_row = amelia(source_record_id="NHS-77", family_name="O'Neil", school_urn="")
    load = load_file(source=health, path=write_csv(tmp_path / "h.csv", [health_row])).load
    assert load.rows.get().outcome == "linked"
    # Only education reports the school: its row is kept as it was, not deleted and re-added.
    assert SchoolEnrolment.objects.get().pk == enrolment.pk
    names = set(ChildName.objects.values_list("kind", "family_name", "source_system"))
    assert names == {
        (NameKind.CURRENT, "O'Neil", health.code),
        (NameKind.ALIAS, "O'Neill", education.code),
    }


def test_a_nickname_with_a_new_surname_finds_the_child_by_birth_date_and_familiar_name(
    education: SourceSystem, health: SourceSystem, tmp_path: Path
) -> None:
    # Neither name nor its sound is shared, and no address is sent: only the familiar form
    # of the given name (Millie for Amelia) and the date of birth bring the child to scoring.
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [amelia()]))
    health_row = amelia(
        source_record_id="NHS-78",
        given_names="Millie",
        family_name="Hughes",
        address_line_1="",
        town="",
        postcode="",
        school_urn="",
        school_start_date="",
    )
    load = load_file(source=health, path=write_csv(tmp_path / "h.csv", [health_row])).load
    assert load.rows.get().outcome == "linked"
    assert Child.objects.count() == 1


def test_loading_the_same_file_twice_changes_nothing(
    education: SourceSystem, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "f.csv", [amelia(), amelia(source_record_id="MCR-2", **BEN)])
    load_file(source=education, path=path)
    before = index_snapshot()
    again = load_file(source=education, path=path).load
    assert index_snapshot() == before
    assert [o for _, o, _ in outcomes(again)] == ["unchanged", "unchanged"]
    assert FeedLoad.objects.count() == 2


def test_bad_rows_are_reported_with_their_line_and_the_rest_of_the_load_goes_on(
    education: SourceSystem, tmp_path: Path
) -> None:
    rows = [
        amelia(source_record_id="OK-1"),
        amelia(source_record_id="BAD-1", postcode="ZZ9 9ZZ"),
        amelia(source_record_id="OK-2", **BEN),
        amelia(source_record_id="BAD-2", date_of_birth=years_ago(19)),
    ]
    load = load_file(source=education, path=write_csv(tmp_path / "f.csv", rows)).load
    assert outcomes(load) == [
        (2, "new", ""),
        (3, "rejected", "postcode: ZZ9 9ZZ cannot exist (there is no postcode area ZZ)"),
        (4, "new", ""),
        (5, "rejected", f"date_of_birth: {years_ago(19)} is of someone aged 18 or over"),
    ]
    assert Child.objects.count() == 2


def test_a_duplicate_source_record_id_in_one_file_is_rejected_naming_the_first(
    education: SourceSystem, tmp_path: Path
) -> None:
    rows = [amelia(), amelia(given_names="Amelia Jane")]
    load = load_file(source=education, path=write_csv(tmp_path / "f.csv", rows)).load
    assert outcomes(load)[1] == (
        3,
        "rejected",
        "duplicate source_record_id: already in this file at line 2",
    )
    assert Child.objects.count() == 1


def test_a_duplicate_across_batches_is_caught_too(education: SourceSystem, tmp_path: Path) -> None:
    rows = [amelia(source_record_id=f"MCR-{n}", **BEN) for n in range(3)] + [amelia()] * 2
    path = write_csv(tmp_path / "f.csv", rows)
    load = load_file(source=education, path=path, batch_size=2).load
    assert load.rows_rejected == 1 and "line 5" in outcomes(load)[-1][2]


def test_validating_in_other_processes_loads_exactly_what_one_process_would(
    education: SourceSystem, tmp_path: Path
) -> None:
    rows = [
        amelia(source_record_id="OK-1"),
        amelia(source_record_id="BAD-1", postcode="ZZ9 9ZZ"),
        amelia(source_record_id="OK-2", **BEN),
        amelia(source_record_id="OK-1"),
        amelia(source_record_id="BAD-2", date_of_birth=years_ago(19)),
    ]
    path = write_csv(tmp_path / "f.csv", rows)
    load = load_file(source=education, path=path, batch_size=2, workers=3).load
    assert load.status == LoadStatus.COMPLETED
    assert outcomes(load) == [
        (2, "new", ""),
        (3, "rejected", "postcode: ZZ9 9ZZ cannot exist (there is no postcode area ZZ)"),
        (4, "new", ""),
        (5, "rejected", "duplicate source_record_id: already in this file at line 2"),
        (6, "rejected", f"date_of_birth: {years_ago(19)} is of someone aged 18 or over"),
    ]
    assert Child.objects.count() == 2


def test_case_information_in_the_header_rejects_the_file_and_stores_nothing(
    education: SourceSystem, tmp_path: Path
) -> None:
    row = {**amelia(), "referral_reason": "Suspected neglect"}
    load = load_file(source=education, path=write_csv(tmp_path / "f.csv", [row])).load
    assert load.rows_rejected == 1 and "referral_reason" in outcomes(load)[0][2]
    assert Child.objects.count() == 0 and SourceRecord.objects.count() == 0


def test_fields_the_source_may_not_supply_reject_only_the_rows_that_use_them(
    make_source: Any, tmp_path: Path
) -> None:
    benefit = make_source("nw-benefit", "child_benefit", ("child", "address", "carers"))
    rows = [amelia(school_urn="", school_start_date=""), amelia(source_record_id="X2", **BEN)]
    load = load_file(source=benefit, path=write_csv(tmp_path / "f.csv", rows)).load
    assert [o for _, o, _ in outcomes(load)] == ["new", "rejected"]
    assert "not registered to supply school" in outcomes(load)[1][2]


def test_json_lines_load_like_csv(education: SourceSystem, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [amelia(), {**amelia(source_record_id="X"), "x": "y"}])
    load = load_file(source=education, path=path).load
    assert [o for _, o, _ in outcomes(load)] == ["new", "rejected"]


def test_an_update_of_a_known_record_changes_the_child_without_matching(
    education: SourceSystem, tmp_path: Path
) -> None:
    load_file(source=education, path=write_csv(tmp_path / "a.csv", [amelia()]))
    moved = amelia(address_line_1="3 Granby Row", town="Manchester", postcode="M1 7AR")
    load = load_file(source=education, path=write_csv(tmp_path / "b.csv", [moved])).load
    assert outcomes(load) == [(2, "linked", "updated")]
    child = Child.objects.get()
    assert child.addresses.get(kind=AddressKind.CURRENT).postcode == "M1 7AR"


def test_a_withdrawal_removes_that_sources_details_from_the_child(
    education: SourceSystem, health: SourceSystem, tmp_path: Path
) -> None:
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [amelia()]))
    load_file(
        source=health,
        path=write_csv(tmp_path / "h.csv", [amelia(source_record_id="H1", given_names="Millie")]),
    )
    assert ChildName.objects.filter(source_system="nw-health").exists()
    withdraw = {"source_record_id": "H1", "event_type": "withdraw"}
    load = load_file(source=health, path=write_csv(tmp_path / "w.csv", [withdraw])).load
    assert outcomes(load)[0][1] == "linked"
    assert not ChildName.objects.filter(source_system="nw-health").exists()
    assert SourceRecord.objects.get(source_record_id="H1").state == "withdrawn"


def test_a_death_reported_by_a_feed_is_recorded(education: SourceSystem, tmp_path: Path) -> None:
    load_file(source=education, path=write_csv(tmp_path / "a.csv", [amelia()]))
    died = amelia(event_type="deceased", event_date=years_ago(0, 1, 2))
    load_file(source=education, path=write_csv(tmp_path / "b.csv", [died]))
    child = Child.objects.get()
    assert child.status == "deceased" and child.died_on is not None


def test_a_record_without_a_known_la_links_to_a_known_child_but_cannot_create_one(
    education: SourceSystem, make_source: Any, tmp_path: Path
) -> None:
    from contactpoint.access.models import Organisation

    national = Organisation.objects.get(kind="national_team")
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [amelia()]))
    benefit = make_source("nw-benefit", "child_benefit", ("child", "address", "carers"))
    benefit.organisation = national
    benefit.save()
    no_address = {
        "address_line_1": "",
        "town": "",
        "postcode": "",
        "school_urn": "",
        "school_start_date": "",
    }
    rows = [
        amelia(source_record_id="CHB-1", **no_address),
        amelia(source_record_id="CHB-2", given_names="Oscar", family_name="Nakamura", **no_address),
    ]
    load = load_file(source=benefit, path=write_csv(tmp_path / "b.csv", rows)).load
    assert [o for _, o, _ in outcomes(load)] == ["linked", "rejected"]
    assert "cannot tell which local authority" in outcomes(load)[1][2]
    assert Child.objects.count() == 1


def test_every_load_is_audited(education: SourceSystem, tmp_path: Path) -> None:
    load = load_file(source=education, path=write_csv(tmp_path / "a.csv", [amelia()])).load
    completed = AuditEvent.objects.get(action="feeds.load_completed")
    assert completed.detail["load"] == load.pk and completed.detail["new"] == 1


# --- Shielding is never lost by matching (issue 5; the 2009 failure) --------------------------


SHIELDED_DOB = years_ago(7, 3, 4)


def _shield_amelia(health: SourceSystem, tmp_path: Path) -> Child:
    shielded = amelia(
        source_record_id="NHS-1",
        date_of_birth=SHIELDED_DOB,
        sensitive_record="yes",
        address_line_1="Flat 2, Beech Court",
        postcode="M14 7QR",
        school_urn="",
        school_start_date="",
    )
    load_file(source=health, path=write_csv(tmp_path / "h.csv", [shielded]))
    child = Child.objects.get()
    assert child.is_shielded
    return child


VARIANTS = {
    "the old address and no flag": {"address_line_1": "14 Victoria Road", "postcode": "M14 5AB"},
    "a typing error in the name": {"given_names": "Amelai Rose", "family_name": "ONeill"},
    "a surname change and a move": {"family_name": "Hughes", "postcode": "M20 2QQ"},
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
def test_a_slightly_different_record_of_a_shielded_child_never_makes_an_unshielded_child(
    health: SourceSystem, education: SourceSystem, tmp_path: Path, changes: dict[str, str]
) -> None:
    shielded = _shield_amelia(health, tmp_path)
    row = amelia(source_record_id="MCR-9", **{"date_of_birth": SHIELDED_DOB, **changes})
    load = load_file(source=education, path=write_csv(tmp_path / "e.csv", [row])).load
    outcome = load.rows.get().outcome
    assert outcome in {"linked", "review"}, load.rows.get().reason
    assert not Child.objects.filter(is_shielded=False).exists()
    if outcome == "review":
        item = ReviewItem.objects.get()
        assert item.involves_shielded and item.candidates[0]["child_id"] == shielded.pk


def test_a_shielded_child_stays_shielded_when_an_unflagged_source_links_to_it(
    health: SourceSystem, education: SourceSystem, tmp_path: Path
) -> None:
    shielded = _shield_amelia(health, tmp_path)
    row = amelia(
        source_record_id="MCR-9",
        date_of_birth=SHIELDED_DOB,
        address_line_1="Flat 2, Beech Court",
        postcode="M14 7QR",
    )
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [row]))
    assert Child.objects.get(pk=shielded.pk).is_shielded


def test_a_stranger_resembling_a_child_flagged_earlier_in_the_same_batch_loads_in_that_batch(
    education: SourceSystem, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The possible-duplicate item names the flagged child by its id, not by the placeholder
    it had before the batch was written (that failed the batch, and it loaded row by row)."""
    flagged = amelia(
        source_record_id="MCR-1",
        date_of_birth=SHIELDED_DOB,
        sensitive_record="yes",
        school_urn="",
        school_start_date="",
    )
    stranger = amelia(
        source_record_id="MCR-2",
        family_name="Hughes",
        date_of_birth=years_ago(7, 3, 5),
        address_line_1="22 Wilmslow Road",
        postcode="M20 2QQ",
        carer_1_given_names="Joanne",
        carer_1_family_name="Hughes",
    )
    with caplog.at_level("ERROR", logger="contactpoint.feeds.loading"):
        load = load_file(source=education, path=write_csv(tmp_path / "e.csv", [flagged, stranger]))
    assert "retrying row by row" not in caplog.text
    assert [(line, outcome) for line, outcome, _ in outcomes(load.load)] == [(2, "new"), (3, "new")]
    first, second = (
        Child.objects.get(contactpoint_id=r.contactpoint_id)
        for r in load.load.rows.order_by("line")
    )
    assert first.is_shielded and second.is_shielded
    item = ReviewItem.objects.get(kind=ReviewKind.POSSIBLE_DUPLICATE)
    assert {item.child_id, item.other_child_id} == {first.pk, second.pk}


def test_an_unrelated_child_born_the_same_day_as_a_shielded_one_is_created_normally(
    health: SourceSystem, education: SourceSystem, tmp_path: Path
) -> None:
    _shield_amelia(health, tmp_path)
    other = amelia(
        source_record_id="MCR-5",
        date_of_birth=SHIELDED_DOB,
        given_names="Oscar",
        family_name="Nakamura",
        gender="male",
        address_line_1="9 Bold Street",
        postcode="M1 4AA",
        carer_1_given_names="Yuki",
        carer_1_family_name="Nakamura",
    )
    load = load_file(source=education, path=write_csv(tmp_path / "e.csv", [other])).load
    assert load.rows.get().outcome == "new"


def test_a_stranger_resembling_a_shielded_child_is_a_new_child_shielded_as_a_precaution(
    health: SourceSystem,
    education: SourceSystem,
    make_source: Callable[..., SourceSystem],
    tmp_path: Path,
) -> None:
    shielded = _shield_amelia(health, tmp_path)
    # Another Amelia, born a digit away, with her own surname, home and mother: as like the
    # shielded child as a child in hiding under a new name would be, and no more.
    stranger = {
        "family_name": "Hughes",
        "date_of_birth": years_ago(7, 3, 5),
        "address_line_1": "22 Wilmslow Road",
        "postcode": "M20 2QQ",
        "carer_1_given_names": "Joanne",
        "carer_1_family_name": "Hughes",
    }
    load = load_file(
        source=education, path=write_csv(tmp_path / "e.csv", [amelia(**stranger)])
    ).load

    row = load.rows.get()
    assert (row.outcome, "precaution" in row.reason) == ("new", True)
    created = Child.objects.get(contactpoint_id=row.contactpoint_id)
    assert created.is_shielded and created.pk != shielded.pk
    item = ReviewItem.objects.get()
    assert item.kind == ReviewKind.POSSIBLE_DUPLICATE and item.involves_shielded
    assert {item.child_id, item.other_child_id} == {created.pk, shielded.pk}
    assert item.local_authority_id == created.responsible_la_id
    decision = ShieldingDecision.objects.get(child=created)
    assert decision.source == DecisionSource.SOURCE_SYSTEM and decision.review_on is not None

    # Her next record, from another source, links to her instead of waiting behind her.
    benefit = make_source("nw-benefit", "child_benefit", ("child", "address", "carers"))
    again = amelia(source_record_id="CHB-7", school_urn="", school_start_date="", **stranger)
    later = load_file(source=benefit, path=write_csv(tmp_path / "b.csv", [again])).load
    assert later.rows.get().outcome == "linked"
    assert later.rows.get().contactpoint_id == created.contactpoint_id
    assert Child.objects.count() == 2 and not Child.objects.filter(is_shielded=False).exists()

    # A third Amelia who resembles the precaution child (a digit from her birth date) but not
    # the shielded one is an ordinary new child: strangers resembling strangers are not shielded.
    third = amelia(
        source_record_id="MCR-88",
        family_name="Khan",
        date_of_birth=years_ago(7, 3, 15),
        address_line_1="3 Kings Road",
        postcode="M16 9AA",
        carer_1_given_names="Ayesha",
        carer_1_family_name="Khan",
    )
    last = load_file(source=education, path=write_csv(tmp_path / "e2.csv", [third])).load
    assert last.rows.get().outcome == "new"
    assert not Child.objects.get(contactpoint_id=last.rows.get().contactpoint_id).is_shielded

    # A source's own flag on the precaution child is a flag, recorded as such.
    flagged = amelia(sensitive_record="yes", **stranger)
    load_file(source=education, path=write_csv(tmp_path / "e3.csv", [flagged]))
    latest = ShieldingDecision.objects.filter(child=created).order_by("-decided_at", "-pk")[0]
    assert not latest.is_precaution and latest.source == DecisionSource.SOURCE_SYSTEM


# --- Crashes and resuming ------------------------------------------------------------------


def test_a_crash_in_the_middle_of_a_batch_leaves_no_half_written_child_and_resumes(
    education: SourceSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        amelia(source_record_id=f"MCR-{n}", given_names=name, date_of_birth=years_ago(5 + n))
        for n, name in enumerate(["Ava", "Ben", "Cara", "Dev", "Ezra", "Finn"])
    ]
    path = write_csv(tmp_path / "f.csv", rows)
    real_insert = loading.insert_rows
    calls = {"load rows": 0}

    def crash_on_second_batch(model: Any, batch_rows: list[dict[str, Any]]) -> None:
        if model is LoadRow:
            calls["load rows"] += 1
            if calls["load rows"] == 2:  # children of batch 2 are written; the report is not
                raise KeyboardInterrupt("the machine lost power")
        real_insert(model, batch_rows)

    monkeypatch.setattr(loading, "insert_rows", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        load_file(source=education, path=path, batch_size=2)
    assert Child.objects.count() == 2  # batch 1 only: batch 2 rolled back whole
    assert SourceRecord.objects.count() == 2 and LoadRow.objects.count() == 2
    assert FeedLoad.objects.get().lines_done == 3

    monkeypatch.setattr(loading, "insert_rows", real_insert)
    result = load_file(source=education, path=path, batch_size=2)
    assert result.resumed_from_line == 3
    assert Child.objects.count() == 6 and SourceRecord.objects.count() == 6
    assert list(LoadRow.objects.values_list("line", flat=True).order_by("line")) == list(
        range(2, 8)
    )
    assert FeedLoad.objects.get().status == LoadStatus.COMPLETED


def test_a_row_that_breaks_the_batch_is_rejected_alone(
    education: SourceSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contactpoint.feeds.loading import FeedLoader

    real = FeedLoader._known_record

    def fragile(self: FeedLoader, row: Any, existing: Any, work: Any) -> None:
        if row.source_record_id == "MCR-2":
            raise RuntimeError("a bug triggered by one row")
        real(self, row, existing, work)

    rows = [
        amelia(),
        amelia(source_record_id="MCR-2", **BEN),
        amelia(source_record_id="MCR-3", given_names="Cara"),
    ]
    load_file(source=education, path=write_csv(tmp_path / "a.csv", rows))
    monkeypatch.setattr(FeedLoader, "_known_record", fragile)
    changed = [
        amelia(given_names="Amelia Jane"),
        amelia(source_record_id="MCR-2", **BEN, town="Salford"),
        amelia(source_record_id="MCR-3", given_names="Cara Louise"),
    ]
    load = load_file(source=education, path=write_csv(tmp_path / "b.csv", changed)).load
    assert [o for _, o, _ in outcomes(load)] == ["linked", "rejected", "linked"]
    assert "could not be stored" in outcomes(load)[1][2]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's planner and its partial index"
)
def test_a_batch_of_nhs_numbers_is_looked_up_through_their_index(
    make_source: Any, tmp_path: Path
) -> None:
    # A batch holds hundreds; past 100 values the planner could not tell that the IN list
    # leaves out '' (the index's condition), and read the whole table instead.
    source = make_source("nw-health", "health_registration")
    load_file(source=source, path=write_csv(tmp_path / "one.csv", [amelia()]))
    child = Child.objects.get()
    now = timezone.now()
    insert_rows(
        SourceRecord,
        [
            {
                "source_id": source.pk,
                "source_record_id": f"NHS-{n}",
                "child_id": child.pk,
                "state": SourceRecordState.LINKED,
                "content_hash": f"{n:064x}",
                "report": "{}",
                "nhs_hash": f"{n:064x}" if n % 2 else "",
                "match_weight": None,
                "match_explanation": "{}",
                "received_at": now,
                "last_load_id": None,
            }
            for n in range(20_000)
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE feeds_sourcerecord")
        # Only the way in matters here, not which is cheapest on a table this small.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    plan = linked_by_nhs_hash(f"{n:064x}" for n in range(1, 300, 2)).explain()
    assert "source_record_nhs" in plan, plan
