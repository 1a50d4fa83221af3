"""Dirty feeds: deterministic, in the documented schema, with ground truth and realistic errors."""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import json
import random
from pathlib import Path

import jsonschema
import pytest
from rapidfuzz.distance import DamerauLevenshtein
from tests.synthetic.support import AS_OF

from contactpoint.feeds.batch import training_context
from contactpoint.feeds.schema import FIELD_NAMES, json_schema
from contactpoint.feeds.validation import nhs_number_is_valid, parse_row
from contactpoint.synthetic import feeds
from contactpoint.synthetic.population import SyntheticHousehold
from contactpoint.synthetic.reference import AuthorityProfile
from contactpoint.synthetic.services import iter_households, plan_settings

CHILDREN = 3_000


@pytest.fixture(scope="module")
def households(
    profiles: dict[str, AuthorityProfile], pilot_codes: list[str]
) -> list[SyntheticHousehold]:
    settings = plan_settings(children=CHILDREN, authorities=pilot_codes, profiles=profiles)
    return list(iter_households(settings=settings, seed=11, as_of=AS_OF))


@pytest.fixture(scope="module")
def emitted(households: list[SyntheticHousehold]) -> list[feeds.EmittedRecord]:
    return list(feeds.dirty_records(households, seed=11, as_of=AS_OF))


def test_the_same_seed_gives_the_same_feeds(households: list[SyntheticHousehold]) -> None:
    first = [r.row for r in feeds.dirty_records(households[:200], seed=4, as_of=AS_OF)]
    again = [r.row for r in feeds.dirty_records(households[:200], seed=4, as_of=AS_OF)]
    other = [r.row for r in feeds.dirty_records(households[:200], seed=5, as_of=AS_OF)]
    assert first == again and first != other


def test_three_sources_report_the_same_children(emitted: list[feeds.EmittedRecord]) -> None:
    by_child: dict[str, set[str]] = collections.defaultdict(set)
    for record in emitted:
        by_child[record.child_key].add(record.source.code)
    assert len(by_child) > CHILDREN * 0.97
    three = sum(1 for sources in by_child.values() if len(sources) == 3) / len(by_child)
    assert three > 0.6  # school-age children are on all three
    assert {s.code for s in feeds.SOURCES} == set().union(*by_child.values())


def test_every_row_is_in_the_documented_schema_and_parses(
    emitted: list[feeds.EmittedRecord],
) -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    # Judged on the population's own date: a 17-year-old then may be 18 by the day tests run.
    context = dataclasses.replace(training_context("nw-health"), today=AS_OF)
    for record in emitted:
        assert list(validator.iter_errors(record.row)) == [], record.row
        parse_row(2, record.row, context)  # raises RowRejected for any invalid row


def test_source_ids_are_unique_per_source_and_do_not_reveal_the_child(
    emitted: list[feeds.EmittedRecord],
) -> None:
    ids = collections.Counter((r.source.code, r.source_record_id) for r in emitted)
    assert max(ids.values()) == 1
    assert all(r.child_key not in r.source_record_id for r in emitted)


def test_nhs_numbers_are_valid_test_range_numbers_only_where_the_source_has_them(
    emitted: list[feeds.EmittedRecord],
) -> None:
    numbers = [(r.source.code, r.row.get("nhs_number")) for r in emitted]
    health = [n for code, n in numbers if code == "nw-health"]
    assert sum(1 for n in health if n) / len(health) > 0.9
    assert all(n is None for code, n in numbers if code == "nw-benefit")
    assert all(nhs_number_is_valid(n) and n.startswith("9") for _, n in numbers if n)


def _rate(emitted: list[feeds.EmittedRecord], error: str) -> float:
    """The share of records showing an error, judged against the truth they came from."""
    return sum(1 for r in emitted if _shows(r, error)) / len(emitted)


def _shows(record: feeds.EmittedRecord, error: str) -> bool:
    row = record.row
    if error == "upper_case":
        return row["family_name"].isupper() and len(row["family_name"]) > 3
    if error == "no_address":
        return not row.get("address_line_1")
    if error == "untidy_postcode":
        postcode = row.get("postcode", "")
        return bool(postcode) and (" " not in postcode or postcode != postcode.upper())
    if error == "unknown_gender":
        return row["gender"] == "not_known"
    raise AssertionError(error)


@pytest.mark.parametrize(
    ("error", "low", "high"),
    [
        ("upper_case", 0.02, 0.10),
        ("no_address", 0.005, 0.06),
        ("untidy_postcode", 0.05, 0.16),
        ("unknown_gender", 0.002, 0.03),
    ],
)
def test_formatting_errors_appear_at_about_their_declared_rates(
    emitted: list[feeds.EmittedRecord], error: str, low: float, high: float
) -> None:
    assert low < _rate(emitted, error) < high


def test_records_of_one_child_disagree_in_the_ways_real_sources_do(
    households: list[SyntheticHousehold], emitted: list[feeds.EmittedRecord]
) -> None:
    truth = {f"{h.household_id}-{c.position}": (h, c) for h in households for c in h.children}
    kinds: collections.Counter[str] = collections.Counter()
    for record in emitted:
        household, child = truth[record.child_key]
        row = record.row
        given, family = row["given_names"].lower(), row["family_name"].lower()
        true_given, true_family = child.name.given_names.lower(), child.name.family_name.lower()
        if given.split(" ")[0] == true_family.split(" ")[0] and family == true_given.split(" ")[0]:
            kinds["swapped names"] += 1
        elif family != true_family and DamerauLevenshtein.distance(family, true_family) == 1:
            kinds["typing error in the family name"] += 1
        elif family != true_family:
            kinds["another surname"] += 1
        first = given.split(" ")[0]
        if (
            first != true_given.split(" ")[0]
            and DamerauLevenshtein.distance(first, true_given.split(" ")[0]) > 2
        ):
            kinds["a different given name (nickname)"] += 1
        if row["date_of_birth"] != child.date_of_birth.isoformat():
            kinds["date of birth error"] += 1
        if household.previous_home and row.get("postcode", "").upper().replace(" ", "") == (
            household.previous_home.address.postcode.replace(" ", "")
        ):
            kinds["an old address"] += 1
    for kind in (
        "swapped names",
        "typing error in the family name",
        "another surname",
        "a different given name (nickname)",
        "date of birth error",
        "an old address",
    ):
        assert kinds[kind] > 0, kind
    assert kinds["date of birth error"] < len(emitted) * 0.02


def test_twins_are_in_the_feeds(households: list[SyntheticHousehold]) -> None:
    twins = sum(
        1
        for h in households
        for a in h.children
        for b in h.children
        if a.position < b.position and a.date_of_birth == b.date_of_birth
    )
    assert twins > 0


@pytest.mark.parametrize("text", ["Amelia", "O'Neill", "Smith-Jones", "Nowak"])
def test_a_typing_error_is_one_edit_away(text: str) -> None:
    rng = random.Random(3)
    for _ in range(50):
        changed = feeds.typo(text, rng)
        assert DamerauLevenshtein.distance(changed, text) <= 1


@pytest.mark.parametrize("kind", ["day_month_swap", "one_digit", "transposed"])
def test_a_date_error_is_a_real_date_one_typing_error_away(kind: str) -> None:
    born = dt.date(2016, 11, 2)  # 02 -> 20, 11 -> 11 (no change), 11/02 -> 02/11
    wrong = feeds.dob_with_error(born, kind, random.Random(1), AS_OF)
    assert wrong != born and wrong <= AS_OF
    if kind == "day_month_swap":
        assert (wrong.month, wrong.day) == (born.day, born.month)
    else:
        assert DamerauLevenshtein.distance(wrong.strftime("%Y%m%d"), born.strftime("%Y%m%d")) == 1


def test_write_feeds_writes_files_ground_truth_and_the_source_list(
    households: list[SyntheticHousehold], tmp_path: Path
) -> None:
    written = feeds.write_feeds(households[:300], directory=tmp_path, seed=2, as_of=AS_OF)
    with written.files["nw-health"].open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == list(FIELD_NAMES)
    truth = feeds.read_ground_truth(written.ground_truth)
    assert len(truth) == written.total_records
    listing = json.loads(written.sources.read_text())
    assert {s["code"] for s in listing} == {"nw-health", "nw-education", "nw-benefit"}
    jsonl = feeds.write_feeds(
        households[:50], directory=tmp_path / "j", seed=2, as_of=AS_OF, feed_format="jsonl"
    )
    first = jsonl.files["nw-benefit"].read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first)["source_record_id"].startswith("CHB-")
