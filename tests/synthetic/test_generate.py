"""`contactpoint generate` writes a valid, consistent, reproducible population into the index."""

from __future__ import annotations

import collections
import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import models
from tests.synthetic.support import AS_OF

from contactpoint.index import contactpoint_id
from contactpoint.index.models import (
    Address,
    Carer,
    Child,
    ChildFieldSource,
    ChildName,
    GpPractice,
    GpRegistration,
    Involvement,
    IssuedContactPointId,
    PostcodeDistrict,
    School,
    SchoolEnrolment,
)
from contactpoint.synthetic.population import PopulationRates
from contactpoint.synthetic.reporting import household_of
from contactpoint.synthetic.selectors import find_authority_codes
from contactpoint.synthetic.services import generate_population

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PARTS: tuple[type[models.Model], ...] = (
    ChildName,
    Address,
    Carer,
    SchoolEnrolment,
    GpRegistration,
    Involvement,
    ChildFieldSource,
)
TIMESTAMPS = {"created_at", "updated_at", "issued_at"}


def generate(children: int, *, seed: int = 1, **options: Any) -> None:
    options.setdefault("authorities", find_authority_codes("pilot"))
    options.setdefault("as_of", AS_OF)
    generate_population(children=children, seed=seed, **options)


def database_digest() -> str:
    """A hash of every generated row except database ids and timestamps."""
    cp_ids = dict(Child.objects.values_list("id", "contactpoint_id"))
    urns = dict(School.objects.values_list("id", "urn"))
    ods_codes = dict(GpPractice.objects.values_list("id", "ods_code"))
    lines = []
    for row in Child.objects.values():
        row.pop("id")
        lines.append(repr(sorted((k, v) for k, v in row.items() if k not in TIMESTAMPS)))
    for model in PARTS:
        for row in model.objects.values():
            row.pop("id")
            row["child_id"] = cp_ids[row["child_id"]]
            if "school_id" in row:
                row["school_id"] = urns[row["school_id"]]
            if "practice_id" in row:
                row["practice_id"] = ods_codes[row["practice_id"]]
            lines.append(model.__name__ + repr(sorted(row.items())))
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def forget_children() -> None:
    Child.objects.all().delete()
    IssuedContactPointId.objects.all().delete()


# --- Reproducible -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_rows_whatever_the_batch_size() -> None:
    generate(1200, seed=11, batch_size=7)
    first = database_digest()
    forget_children()
    generate(1200, seed=11, batch_size=1000)
    assert database_digest() == first


def test_a_different_seed_gives_different_rows() -> None:
    generate(600, seed=1)
    first = database_digest()
    forget_children()
    generate(600, seed=2)
    assert database_digest() != first


def test_a_second_run_adds_children_with_new_ids_and_reuses_schools() -> None:
    generate(500, seed=1)
    schools = School.objects.count()
    generate(500, seed=2)
    assert Child.objects.count() == 500 * 2
    ids = list(Child.objects.values_list("contactpoint_id", flat=True))
    assert len(set(ids)) == len(ids) and all(contactpoint_id.is_valid(i) for i in ids)
    assert IssuedContactPointId.objects.count() == len(ids)
    assert School.objects.count() == schools


# --- Valid and consistent --------------------------------------------------------------------


def test_a_sample_of_generated_rows_passes_full_validation() -> None:
    generate(1500, seed=5)
    children = list(Child.objects.order_by("id")[::15])
    assert len(children) == 100
    for child in children:
        child.full_clean()
        for part in PARTS:
            for row in part.objects.filter(child=child):
                row.full_clean()
    for school in School.objects.all():
        school.full_clean()
    for practice in GpPractice.objects.all():
        practice.full_clean()


def test_each_la_gets_schools_of_every_phase_and_gp_practices_with_real_looking_codes() -> None:
    generate(3000, seed=9)
    with_children = set(Child.objects.values_list("responsible_la_id", flat=True).distinct())
    phases = collections.defaultdict(set)
    for la_id, phase, urn in School.objects.values_list("local_authority_id", "phase", "urn"):
        phases[la_id].add(phase)
        assert urn.isdigit() and len(urn) == 6
    assert all(
        phases[la] >= {"nursery", "primary", "secondary", "special", "16_plus"}
        for la in with_children
    )
    ods_codes = list(GpPractice.objects.values_list("ods_code", flat=True))
    assert all(re.fullmatch(r"[A-Z]\d{5}", code) for code in ods_codes)
    assert set(GpPractice.objects.values_list("local_authority_id", flat=True)) == with_children
    # Pupils' schools suit their age: no eleven-year-old in a primary, no five-year-old in a
    # secondary (ages on 31 August, when the school year's cohort is fixed).
    for born, phase in SchoolEnrolment.objects.filter(ended_on__isnull=True).values_list(
        "child__date_of_birth", "school__phase"
    ):
        age = AS_OF.year - 1 - born.year - ((born.month, born.day) > (8, 31))
        if phase == "primary":
            assert 3 <= age <= 10
        if phase == "secondary":
            assert 11 <= age <= 17


def test_every_current_address_is_in_a_postcode_district_of_the_childs_la() -> None:
    generate(1500, seed=3)
    district_la = dict(PostcodeDistrict.objects.values_list("code", "local_authority_id"))
    addresses = Address.objects.exclude(kind="previous").values_list(
        "postcode_district", "child__responsible_la_id"
    )
    assert len(addresses) > 1400
    assert all(district_la[district] == la for district, la in addresses)
    schools = School.objects.values_list("postcode", "local_authority_id")
    assert all(district_la[postcode.split(" ")[0]] == la for postcode, la in schools)


def test_siblings_share_carers_address_and_gp() -> None:
    generate(2000, seed=4)
    households: dict[str, list[int]] = collections.defaultdict(list)
    for child_id, record_id in ChildName.objects.filter(kind="current").values_list(
        "child_id", "source_record_id"
    ):
        households[household_of(record_id)].append(child_id)
    families = [ids for ids in households.values() if len(ids) > 1]
    assert len(families) > 200

    def resident_carers(child_id: int) -> frozenset[tuple[str, ...]]:
        return frozenset(
            Carer.objects.filter(child_id=child_id, lives_with_child=True).values_list(
                "given_names", "family_name", "phone_1", "phone_2", "postcode"
            )
        )

    for ids in families:
        assert len({resident_carers(i) for i in ids}) == 1
        homes = set(
            Address.objects.filter(child_id__in=ids)
            .exclude(kind="previous")
            .values_list("line_1", "postcode")
        )
        assert len(homes) <= 1
        practices = set(
            GpRegistration.objects.filter(child_id__in=ids).values_list("practice_id", flat=True)
        )
        assert len(practices) <= 1


def test_shielded_children_come_in_whole_households() -> None:
    generate(1500, seed=6, rates=PopulationRates(shielded_household=0.1))
    flags: dict[str, set[bool]] = collections.defaultdict(set)
    for record_id, shielded in ChildName.objects.filter(kind="current").values_list(
        "source_record_id", "child__is_shielded"
    ):
        flags[household_of(record_id)].add(shielded)
    assert all(len(f) == 1 for f in flags.values())
    share = Child.objects.filter(is_shielded=True).count() / Child.objects.count()
    assert 0.06 < share < 0.14


def test_sensitive_services_are_stored_with_their_basis() -> None:
    generate(2000, seed=8)
    sensitive = Involvement.objects.filter(
        service_type__in=["sexual_health", "mental_health", "substance_misuse"]
    )
    assert sensitive.exists()
    assert not sensitive.filter(sensitive_basis="").exists()
    assert sensitive.filter(sensitive_basis="consent").count() > 0.8 * sensitive.count()


# --- The command ----------------------------------------------------------------------------


def test_the_command_generates_and_summarises_in_one_line() -> None:
    out = io.StringIO()
    call_command(
        "generate",
        children="300",
        seed="2",
        authorities="pilot",
        as_of=AS_OF.isoformat(),
        verbosity=0,
        stdout=out,
    )
    assert Child.objects.count() == 300
    summary = out.getvalue().strip()
    assert summary.startswith("Generated 300 children in ") and "\n" not in summary


def test_if_empty_leaves_an_index_that_has_children_alone() -> None:
    generate(50)
    out = io.StringIO()
    call_command("generate", children="500", if_empty=True, verbosity=0, stdout=out)
    assert Child.objects.count() == 50
    assert "nothing generated" in out.getvalue()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("children", "many", "--children must be a whole number"),
        ("children", "0", "--children must be between 1"),
        ("seed", "-1", "--seed must be between 0"),
        ("batch_size", "0", "--batch-size must be between 1"),
        ("authorities", "nowhere", "not an ONS local authority code"),
        ("authorities", "E08999999", "unknown local authority code: E08999999"),
        ("authorities", " ", "--authorities is empty"),
        ("as_of", "2026-13-01", "--as-of must be a date"),
        ("as_of", "2999-01-01", "is in the future"),
        ("as_of", "2001-01-01", "more than 7 years ago"),
    ],
)
def test_a_bad_argument_is_refused_with_a_message_and_nothing_written(
    option: str, value: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("generate", verbosity=0, **{option: value})
    assert not Child.objects.exists()


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-m", "contactpoint.cli", "generate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_help_explains_every_option() -> None:
    result = _run_cli("--help")
    assert result.returncode == 0
    for option in ("--children", "--seed", "--authorities", "--as-of", "--batch-size"):
        assert option in result.stdout


@pytest.mark.parametrize("args", [("--children", "lots"), ("--no-such-option",)])
def test_a_bad_argument_on_the_command_line_is_one_line_and_a_failure(
    args: tuple[str, ...],
) -> None:
    result = _run_cli(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
