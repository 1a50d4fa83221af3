"""A child not yet written, as matching compares it: the same profile, found by the same rules,
as once written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.feeds.conftest import amelia, write_csv, years_ago

from contactpoint.feeds.loading import load_file
from contactpoint.feeds.models import SourceRecord
from contactpoint.feeds.precedence import current_precedence
from contactpoint.feeds.serialise import record_from_json
from contactpoint.index.linkage import merge_reports
from contactpoint.index.models import Child
from contactpoint.matching.blocking import find_candidates, load_profiles, rule_between
from contactpoint.matching.features import MatchRecord, PersonName, PlaceKey, from_merged_child

pytestmark = pytest.mark.django_db


def test_a_merged_child_profiles_as_load_profiles_reads_it_back(
    make_source: Any, tmp_path: Path
) -> None:
    health = make_source("nw-health", "health_registration")
    education = make_source("nw-education")
    born = years_ago(7, 3, 4)
    at_gp = amelia(
        source_record_id="NHS-1",
        date_of_birth=born,
        nhs_number="9434765870",
        gp_practice_code="P84001",
        school_urn=None,  # type: ignore[arg-type]
        school_start_date=None,  # type: ignore[arg-type]
    )
    # The school knows her by her old surname at her old address.
    at_school = amelia(
        source_record_id="MCR-1",
        date_of_birth=born,
        family_name="Hughes",
        address_line_1="22 Wilmslow Road",
        postcode="M20 2QQ",
    )
    load_file(source=health, path=write_csv(tmp_path / "h.csv", [at_gp]))
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [at_school]))
    (child,) = Child.objects.all()
    records = SourceRecord.objects.filter(child=child).order_by("id")
    assert records.count() == 2, "both records are of one child"

    built = from_merged_child(
        merge_reports([record_from_json(r.report) for r in records], current_precedence()),
        nhs_hashes=frozenset(r.nhs_hash for r in records if r.nhs_hash),
        child_id=child.id,
        is_shielded=child.is_shielded,
    )
    read = load_profiles([child.id])[child.id]

    assert len(built.names) == 2 and len(built.places) == 2 and built.nhs_hashes
    assert built.names[0] == read.names[0] and set(built.names) == set(read.names)
    assert built.places[0] == read.places[0] and set(built.places) == set(read.places)
    assert (built.date_of_birth, built.gender) == (read.date_of_birth, read.gender)
    assert set(built.carers) == set(read.carers)
    assert (built.school_urns, built.gp_codes) == (read.school_urns, read.gp_codes)
    assert (built.child_id, built.is_shielded) == (read.child_id, read.is_shielded)


def _probe(given: str, family: str, born: dt.date, postcode: str) -> MatchRecord:
    place = PlaceKey.of(postcode, "1 Other Street")
    assert place is not None
    return MatchRecord(
        names=(PersonName.of(given, family),),
        date_of_birth=born,
        gender="female",
        places=(place,),
    )


def test_rule_between_finds_a_child_in_memory_by_the_rule_the_database_finds_it_by(
    make_source: Any, tmp_path: Path
) -> None:
    education = make_source("nw-education")
    born = dt.date.fromisoformat(years_ago(7, 3, 4))
    load_file(
        source=education,
        path=write_csv(
            tmp_path / "e.csv",
            [amelia(source_record_id="MCR-1", date_of_birth=born.isoformat())],
        ),
    )
    load_file(  # a later report of her at a new address, under a new surname
        source=make_source("nw-health", "health_registration"),
        path=write_csv(
            tmp_path / "h.csv",
            [
                amelia(
                    source_record_id="NHS-1",
                    date_of_birth=born.isoformat(),
                    family_name="Hughes",
                    address_line_1="22 Wilmslow Road",
                    postcode="M20 2QQ",
                )
            ],
        ),
    )
    (child,) = Child.objects.all()
    profile = load_profiles([child.id])[child.id]
    months_older = born - dt.timedelta(days=200)
    probes = [
        _probe("Amelia", "O'Neil", born, "LS1 4AP"),  # her surname misspelt
        _probe("Amelia", "Smith", born, "LS1 4AP"),  # a new surname
        _probe("Millie", "Smith", born, "LS1 4AP"),  # a familiar form, a new surname
        _probe("Grace", "Smith", months_older, "M14 5AB"),  # someone else at her first home
        _probe("Grace", "Smith", months_older, "M20 2QQ"),  # ... and at her second
        _probe("O'Neill", "Amelia", months_older, "LS1 4AP"),  # her names swapped
        _probe("Grace", "Smith", born, "LS1 4AP"),  # a stranger born the same day
        _probe("Amelia", "O'Neill", dt.date(born.year - 3, 1, 1), "LS1 4AP"),  # years apart
    ]
    by_database = [found.get(child.id, "") for found in find_candidates(probes)]
    in_memory = [rule_between(probe, profile) for probe in probes]

    assert in_memory == by_database
    assert set(by_database) >= {
        "dob_family_phonetic",
        "dob_given",
        "dob_familiar",
        "dob_postcode",
        "names_phonetic",
        "",
    }
