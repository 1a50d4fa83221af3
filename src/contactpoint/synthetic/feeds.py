"""Dirty source feeds of the true population, with the ground truth to score matching against.

Three sources report the same children, each the way such a system really does (issue 5, item 9):

- `nw-health` (health registration): almost every child, accurate dates, NHS numbers, GP;
  but families re-register late, so addresses go stale;
- `nw-education` (LA education): children of school age, school and SENCO; "known as" names,
  nicknames and dropped middle names are common;
- `nw-benefit` (child benefit): the claimant's view: the carer's surname for the child now and
  then, stale addresses after a move, no NHS numbers.

Every error is drawn from a rate declared in `ErrorRates` (typing errors, nicknames, surname
changes, swapped names, date errors, house moves, missing fields); twins come from the
population itself. Each (source, child) pair draws from its own seeded random.Random, so a
record is the same whatever the batch size or which other children were written.

Files are written in the documented feed schema (docs/feeds.md), as CSV or JSON Lines, plus
`ground_truth.csv` (source, source_record_id, child_key) and `sources.json` (how to register
the three sources). Nothing here touches the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from contactpoint.feeds.schema import FIELD_NAMES
from contactpoint.index.vocabularies import ChildStatus, Gender, ServiceType, Whereabouts
from contactpoint.synthetic import data
from contactpoint.synthetic.population import (
    SyntheticAddress,
    SyntheticChild,
    SyntheticHousehold,
)
from contactpoint.synthetic.reference import draw_surname
from contactpoint.synthetic.reporting import source_record_id as child_key_of

GROUND_TRUTH_FILE = "ground_truth.csv"
SOURCES_FILE = "sources.json"

# Keyboard neighbours for substitution typos (UK QWERTY), the commonest typing error.
_NEIGHBOURS: dict[str, str] = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip


@dataclass(frozen=True)
class ErrorRates:
    """How often a source gets each thing wrong, per record (0.01 = one record in a hundred)."""

    given_typo: float = 0.02
    family_typo: float = 0.02
    nickname: float = 0.02
    drop_middle_names: float = 0.2
    surname_change: float = 0.01
    swapped_names: float = 0.004
    dob_day_month_swap: float = 0.003
    dob_one_digit: float = 0.006
    dob_transposed: float = 0.003
    stale_address: float = 0.05  # of children whose family moved: the old address
    missing_address: float = 0.02
    missing_postcode: float = 0.01
    postcode_typo: float = 0.01
    missing_gender: float = 0.01
    missing_carers: float = 0.1
    upper_case_names: float = 0.05
    untidy_postcode: float = 0.1
    invalid_row: float = 0.0  # rows a validator must reject (for demos of the load report)


@dataclass(frozen=True)
class FeedSourceSpec:
    """One synthetic source system: what it covers, what it sends, and how it errs."""

    code: str
    name: str
    kind: str
    parts: tuple[str, ...]
    id_prefix: str
    coverage: float
    nhs_share: float
    flags_shielding: float  # chance it marks a shielded child's record as sensitive
    sends_local_authority: bool  # LA and NHS systems know the responsible LA; benefits do not
    involvement_types: frozenset[str]
    carers_held: int = 2
    needs: str = ""  # "school" or "gp": only children with one are on this source
    errors: ErrorRates = field(default_factory=ErrorRates)


_HEALTH_INVOLVEMENTS = frozenset(
    {
        ServiceType.HEALTH_VISITOR,
        ServiceType.SCHOOL_NURSE,
        ServiceType.SEXUAL_HEALTH,
        ServiceType.MENTAL_HEALTH,
        ServiceType.SUBSTANCE_MISUSE,
    }
)

SOURCES: tuple[FeedSourceSpec, ...] = (
    FeedSourceSpec(
        code="nw-health",
        name="North West child health registration",
        kind="health_registration",
        parts=(
            "child",
            "address",
            "carers",
            "gp_practice",
            "involvements",
            "sensitive_services",
            "nhs_number",
            "shielding_request",
        ),
        id_prefix="CHR",
        coverage=0.985,
        nhs_share=0.97,
        flags_shielding=0.8,
        sends_local_authority=True,
        involvement_types=_HEALTH_INVOLVEMENTS,
        needs="gp",
        errors=ErrorRates(
            nickname=0.005,
            drop_middle_names=0.05,
            dob_day_month_swap=0.001,
            dob_one_digit=0.003,
            dob_transposed=0.001,
            stale_address=0.25,
            missing_carers=0.3,
        ),
    ),
    FeedSourceSpec(
        code="nw-education",
        name="North West LA education",
        kind="la_education",
        parts=(
            "child",
            "address",
            "carers",
            "school",
            "involvements",
            "nhs_number",
            "shielding_request",
        ),
        id_prefix="UPN",
        coverage=0.99,
        nhs_share=0.3,
        flags_shielding=0.7,
        sends_local_authority=True,
        involvement_types=frozenset({ServiceType.SENCO, ServiceType.OTHER}),
        needs="school",
        errors=ErrorRates(nickname=0.04, drop_middle_names=0.4, stale_address=0.1),
    ),
    FeedSourceSpec(
        code="nw-benefit",
        name="Child benefit (North West extract)",
        kind="child_benefit",
        parts=("child", "address", "carers", "shielding_request"),
        id_prefix="CHB",
        coverage=0.93,
        nhs_share=0.0,
        flags_shielding=0.5,
        sends_local_authority=False,
        carers_held=1,
        involvement_types=frozenset(),
        errors=ErrorRates(
            surname_change=0.03,
            stale_address=0.3,
            missing_carers=0.0,
            missing_address=0.01,
            missing_postcode=0.003,
        ),
    ),
)


# --- Small pure helpers (each tested on its own) ------------------------------------------


def synthetic_nhs_number(child_key: str) -> str:
    """A valid (modulus 11) NHS number that is a pure function of the child's key.

    Real NHS numbers start 4-7 (England and Wales); 9 is the range reserved for testing, so no
    synthetic number can be a real person's.
    """
    digest = int(hashlib.sha256(f"nhs:{child_key}".encode()).hexdigest(), 16)
    for attempt in range(20):
        body = "9" + f"{(digest >> (attempt * 8)) % 10**8:08d}"
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return body + str(check)
    raise AssertionError("no valid NHS number in 20 draws")  # pragma: no cover


def source_record_id(spec: FeedSourceSpec, child_key: str) -> str:
    """The source's own ID for a child: stable, and unrelated to the truth's key."""
    digest = hashlib.sha256(f"{spec.code}:{child_key}".encode()).hexdigest()[:10].upper()
    return f"{spec.id_prefix}-{digest}"


def typo(text: str, rng: random.Random) -> str:
    """One typing error: a neighbouring key, a letter dropped, doubled, or two swapped."""
    letters = list(text)
    positions = [i for i, ch in enumerate(letters) if ch.isalpha()]
    if len(positions) < 3:
        return text
    # First letters are rarely wrong: people see them, and they are often capitals.
    index = rng.choice(positions[1:]) if rng.random() < 0.9 else positions[0]
    kind = rng.random()
    char = letters[index]
    if kind < 0.4:
        options = _NEIGHBOURS.get(char.lower(), "")
        if options:
            new = rng.choice(options)
            letters[index] = new.upper() if char.isupper() else new
    elif kind < 0.6:
        del letters[index]
    elif kind < 0.8:
        letters.insert(index, char.lower())
    elif index + 1 < len(letters) and letters[index + 1].isalpha():
        letters[index], letters[index + 1] = letters[index + 1], letters[index]
    else:
        del letters[index]
    return "".join(letters)


def dob_with_error(dob: dt.date, kind: str, rng: random.Random, as_of: dt.date) -> dt.date:
    """The date of birth with one realistic error, or the true date if none fits."""
    text = dob.strftime("%Y%m%d")
    candidates: list[dt.date] = []
    if kind == "day_month_swap" and dob.day <= 12 and dob.day != dob.month:
        candidates.append(dob.replace(month=dob.day, day=dob.month))
    elif kind == "one_digit":
        for position in (7, 6, 5, 3):  # day, month, last digit of the year
            digit = int(text[position])
            for new in ((digit + 1) % 10, (digit - 1) % 10):
                candidates.append(_parse(text[:position] + str(new) + text[position + 1 :]))
    elif kind == "transposed":
        for position in (6, 4, 2):  # DD, MM, YY swapped within
            swapped = text[:position] + text[position + 1] + text[position] + text[position + 2 :]
            if swapped != text:
                candidates.append(_parse(swapped))
    usable = [d for d in candidates if d is not None and d != dob and d <= as_of]
    usable = [d for d in usable if (as_of - d).days < 18 * 365]
    return rng.choice(usable) if usable else dob


def _parse(text: str) -> Any:
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def untidy_postcode(postcode: str, rng: random.Random) -> str:
    """The same postcode as people type it: no space, or lower case."""
    return postcode.replace(" ", "") if rng.random() < 0.5 else postcode.lower()


def postcode_with_typo(postcode: str, rng: random.Random) -> str:
    """A wrong last letter or digit of the inward code: a real-looking, wrong postcode."""
    outward, inward = postcode.split(" ")
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    if rng.random() < 0.5:
        inward = inward[0] + inward[1] + rng.choice(letters.replace(inward[2], ""))
    else:
        inward = str((int(inward[0]) + rng.choice((1, 9))) % 10) + inward[1:]
    return f"{outward} {inward}"


# --- Reporting one child as one source ------------------------------------------------------


@dataclass(frozen=True)
class EmittedRecord:
    source: FeedSourceSpec
    source_record_id: str
    child_key: str
    row: dict[str, str]


def _covered(spec: FeedSourceSpec, child: SyntheticChild, rng: random.Random) -> bool:
    if spec.needs == "school" and child.school is None:
        return False
    if spec.needs == "gp" and child.gp is None:
        return False
    return rng.random() < spec.coverage


def _address_fields(address: SyntheticAddress | None) -> dict[str, str]:
    if address is None:
        return {}
    return {
        "address_line_1": address.line_1,
        "address_line_2": address.line_2,
        "town": address.town,
        "postcode": address.postcode,
    }


def report_dirty(
    spec: FeedSourceSpec,
    household: SyntheticHousehold,
    child: SyntheticChild,
    *,
    seed: int,
    as_of: dt.date,
) -> EmittedRecord | None:
    """How this source reports this child, errors and all; None if the source doesn't know them."""
    key = child_key_of(household, child)
    rng = random.Random(f"{seed}:{spec.code}:{key}")
    if not _covered(spec, child, rng):
        return None
    e = spec.errors
    row: dict[str, str] = {"source_record_id": source_record_id(spec, key)}

    # Names.
    given_words = child.name.given_names.split(" ")
    family = child.name.family_name
    if rng.random() < e.drop_middle_names:
        given_words = given_words[:1]
    if rng.random() < e.nickname:
        familiar = data.nicknames().get(given_words[0])
        if familiar:
            given_words = [rng.choice(familiar)]
    if rng.random() < e.surname_change:
        if child.former_names:
            family = child.former_names[0].family_name
        else:
            carers = [household.adults[link.adult].family_name for link in child.carers]
            others = [name for name in carers if name != family]
            family = rng.choice(others) if others else draw_surname(rng)
    given = " ".join(given_words)
    if rng.random() < e.given_typo:
        given = typo(given, rng)
    if rng.random() < e.family_typo:
        family = typo(family, rng)
    if rng.random() < e.swapped_names:
        given, family = family, given.split(" ")[0]
    if rng.random() < e.upper_case_names:
        given, family = given.upper(), family.upper()
    row["given_names"], row["family_name"] = given, family
    if child.former_names and rng.random() < 0.5:
        row["former_family_name"] = child.former_names[0].family_name

    # Date of birth and gender.
    dob = child.date_of_birth
    roll = rng.random()
    if roll < e.dob_day_month_swap:
        dob = dob_with_error(dob, "day_month_swap", rng, as_of)
    elif roll < e.dob_day_month_swap + e.dob_one_digit:
        dob = dob_with_error(dob, "one_digit", rng, as_of)
    elif roll < e.dob_day_month_swap + e.dob_one_digit + e.dob_transposed:
        dob = dob_with_error(dob, "transposed", rng, as_of)
    row["date_of_birth"] = dob.isoformat()
    gender = child.gender
    if rng.random() < e.missing_gender:
        gender = Gender.NOT_KNOWN
    row["gender"] = gender
    if spec.sends_local_authority:
        row["local_authority"] = household.la_code

    # Address: the current one, or the one before a move this source has not heard about.
    address = household.home.address if household.home else None
    if household.home is not None and household.previous_home is not None:
        moved_recently = (as_of - household.home.from_date).days < 3 * 365
        stale_chance = e.stale_address * (3 if household.is_shielded else 1)
        if moved_recently and rng.random() < stale_chance:
            address = household.previous_home.address
    if household.whereabouts == Whereabouts.NO_KNOWN_ADDRESS:
        address = None
    if address is not None and rng.random() >= e.missing_address:
        fields = _address_fields(address)
        if rng.random() < e.postcode_typo:
            fields["postcode"] = postcode_with_typo(fields["postcode"], rng)
        if rng.random() < e.untidy_postcode:
            fields["postcode"] = untidy_postcode(fields["postcode"], rng)
        if rng.random() < e.missing_postcode:
            fields["postcode"] = ""
        row.update(fields)

    # Carers: those with parental responsibility first, in whatever order the source keeps
    # them; some sources hold only one (the benefit claimant); names get mistyped too.
    if rng.random() >= e.missing_carers:
        links = sorted(child.carers, key=lambda link: not link.has_parental_responsibility)[:2]
        if len(links) == 2 and rng.random() < 0.3:
            links.reverse()
        if spec.carers_held == 1:
            links = links[:1]
        for number, link in enumerate(links, start=1):
            adult = household.adults[link.adult]
            p = f"carer_{number}_"
            carer_given = adult.given_names
            if rng.random() < e.given_typo:
                carer_given = typo(carer_given, rng)
            row[p + "given_names"] = carer_given
            row[p + "family_name"] = adult.family_name
            row[p + "relationship"] = link.relationship
            row[p + "parental_responsibility"] = "yes" if link.has_parental_responsibility else "no"
            if adult.phones:
                row[p + "phone"] = adult.phones[0]

    if "school" in spec.parts and child.school is not None:
        row["school_urn"] = child.school.school.urn
        row["school_start_date"] = child.school.started_on.isoformat()
    if "gp_practice" in spec.parts and child.gp is not None:
        row["gp_practice_code"] = child.gp.ods_code
        row["gp_registration_date"] = child.gp.registered_on.isoformat()
    _involvements(spec, child, row)
    if "nhs_number" in spec.parts and rng.random() < spec.nhs_share:
        row["nhs_number"] = synthetic_nhs_number(key)
    if household.is_shielded and rng.random() < spec.flags_shielding:
        row["sensitive_record"] = "yes"

    # Events: a death or a move abroad, when this source has heard of it.
    if child.status == ChildStatus.DECEASED and child.died_on and rng.random() < 0.8:
        row["event_type"], row["event_date"] = "deceased", child.died_on.isoformat()
    elif (
        household.whereabouts == Whereabouts.LEFT_ENGLAND
        and household.left_england_on
        and rng.random() < 0.6
    ):
        row["event_type"] = "left_england"
        row["event_date"] = household.left_england_on.isoformat()
        row["return_intention"] = household.intends_return or "unknown"

    if e.invalid_row and rng.random() < e.invalid_row:
        row["date_of_birth"] = rng.choice(("2031-01-01", "14/03/2019", "1990-05-05"))
    return EmittedRecord(spec, row["source_record_id"], key, row)


def _involvements(spec: FeedSourceSpec, child: SyntheticChild, row: dict[str, str]) -> None:
    number = 0
    for inv in child.involvements:
        if inv.service_type not in spec.involvement_types or number == 2:
            continue
        if inv.service_type == ServiceType.OTHER and inv.other_service not in {
            "education_welfare",
            "educational_psychology",
        }:
            continue
        number += 1
        p = f"involvement_{number}_"
        who = inv.practitioner
        row[p + "service_type"] = inv.service_type
        if inv.other_service:
            row[p + "other_service"] = inv.other_service
        row[p + "organisation"] = who.organisation
        row[p + "practitioner_name"] = who.name
        row[p + "practitioner_role"] = who.role
        row[p + "phone"] = who.phone
        row[p + "secure_email"] = who.email
        row[p + "start_date"] = inv.started_on.isoformat()
        if inv.ended_on:
            row[p + "end_date"] = inv.ended_on.isoformat()
        if inv.is_lead_professional:
            row[p + "lead_professional"] = "yes"
        if inv.caf_assessment_on:
            row[p + "caf_assessment_date"] = inv.caf_assessment_on.isoformat()
        if inv.sensitive_basis:
            row[p + "sensitive_basis"] = inv.sensitive_basis


def dirty_records(
    households: Iterable[SyntheticHousehold],
    *,
    seed: int,
    as_of: dt.date,
    sources: tuple[FeedSourceSpec, ...] = SOURCES,
) -> Iterator[EmittedRecord]:
    """Every source's report of every child it covers, household by household."""
    for household in households:
        for child in household.children:
            for spec in sources:
                emitted = report_dirty(spec, household, child, seed=seed, as_of=as_of)
                if emitted is not None:
                    yield emitted


# --- Writing files -----------------------------------------------------------------------------


@dataclass
class FeedFiles:
    """What `write_feeds` wrote: one file per source, the ground truth and the source list."""

    directory: Path
    files: dict[str, Path]
    ground_truth: Path
    sources: Path
    records: dict[str, int]
    children: int

    @property
    def total_records(self) -> int:
        return sum(self.records.values())


class _Writer:
    def __init__(self, path: Path, feed_format: str) -> None:
        self.handle: TextIO = path.open("w", newline="", encoding="utf-8")
        self.format = feed_format
        self.csv = (
            csv.DictWriter(self.handle, fieldnames=list(FIELD_NAMES))
            if feed_format == "csv"
            else None
        )
        if self.csv is not None:
            self.csv.writeheader()

    def write(self, row: dict[str, str]) -> None:
        if self.csv is not None:
            self.csv.writerow(row)
        else:
            self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.handle.close()


def write_feeds(
    households: Iterable[SyntheticHousehold],
    *,
    directory: Path,
    seed: int,
    as_of: dt.date,
    feed_format: str = "csv",
    sources: tuple[FeedSourceSpec, ...] = SOURCES,
) -> FeedFiles:
    """Write each source's feed file, ground_truth.csv and sources.json into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = "csv" if feed_format == "csv" else "jsonl"
    files = {spec.code: directory / f"{spec.code}.{suffix}" for spec in sources}
    writers = {code: _Writer(path, feed_format) for code, path in files.items()}
    counts = dict.fromkeys(files, 0)
    children: set[str] = set()
    truth_path = directory / GROUND_TRUTH_FILE
    try:
        with truth_path.open("w", newline="", encoding="utf-8") as truth_handle:
            truth = csv.writer(truth_handle)
            truth.writerow(("source", "source_record_id", "child_key"))
            for record in dirty_records(households, seed=seed, as_of=as_of, sources=sources):
                writers[record.source.code].write(record.row)
                truth.writerow((record.source.code, record.source_record_id, record.child_key))
                counts[record.source.code] += 1
                children.add(record.child_key)
    finally:
        for writer in writers.values():
            writer.close()
    sources_path = directory / SOURCES_FILE
    sources_path.write_text(
        json.dumps(
            [
                {
                    "code": s.code,
                    "name": s.name,
                    "kind": s.kind,
                    "parts": list(s.parts),
                    "file": files[s.code].name,
                    "errors": asdict(s.errors),
                }
                for s in sources
            ],
            indent=1,
        )
        + "\n"
    )
    return FeedFiles(directory, files, truth_path, sources_path, counts, len(children))


def read_ground_truth(path: Path) -> dict[tuple[str, str], str]:
    """(source, source_record_id) -> the true child's key."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            (row["source"], row["source_record_id"]): row["child_key"]
            for row in csv.DictReader(handle)
        }
