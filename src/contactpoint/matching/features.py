"""What the matcher compares: a record reduced to normalised keys (no database, no Django).

Both sides of a comparison are `MatchRecord`s: the incoming source record (one name, one
address) and a candidate child (every name, address, carer, school and GP the index holds,
current first). Keys come from `index.normalise`, so the matcher and the stored search keys
can never drift apart.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from contactpoint.index import normalise
from contactpoint.index.records import ChildRecord
from contactpoint.index.vocabularies import AddressKind, Gender, NameKind

if TYPE_CHECKING:
    from contactpoint.index.linkage import MergedChild

DATA_DIR = Path(__file__).resolve().parent / "data"

# Street words that sources abbreviate differently ("Rd", "Road"); reduced to one form.
_STREET_WORDS: dict[str, str] = {
    "ROAD": "RD",
    "STREET": "ST",
    "AVENUE": "AVE",
    "AV": "AVE",
    "LANE": "LN",
    "DRIVE": "DR",
    "CLOSE": "CL",
    "COURT": "CT",
    "CRESCENT": "CRES",
    "GARDENS": "GDNS",
    "GROVE": "GR",
    "PLACE": "PL",
    "SQUARE": "SQ",
    "TERRACE": "TER",
    "TERR": "TER",
    "WAY": "WY",
    "FLAT": "",
    "APARTMENT": "",
}
_ADDRESS_TOKEN = re.compile(r"[A-Z0-9]+")
_UNKNOWN_GENDERS = frozenset({Gender.NOT_KNOWN, Gender.NOT_SPECIFIED, ""})


@functools.cache
def nickname_roots() -> dict[str, frozenset[str]]:
    """Name key -> the formal names it is a form of (BOB -> {ROBERT}, CHARLIE -> {CHARLES,
    CHARLOTTE}, ROBERT -> {ROBERT}). Two given names are familiar forms of each other when
    their sets meet.
    """
    groups: dict[str, set[str]] = {}
    with (DATA_DIR / "nicknames.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            formal = normalise.name_key(row["formal"])
            familiar = normalise.name_key(row["familiar"])
            if familiar != formal:
                groups.setdefault(familiar, set()).add(formal)
            groups.setdefault(formal, set())
    # Follow familiar -> formal edges to formal names that are forms of nothing else, so
    # chains such as Mohammad -> Muhammad -> Mohammed end at one root.
    roots: dict[str, frozenset[str]] = {}
    for name in groups:
        seen = {name}
        frontier = {name}
        while frontier:
            step = set().union(*(groups.get(n, set()) for n in frontier)) - seen
            seen |= step
            frontier = step
        terminal = frozenset(n for n in seen if not groups.get(n))
        roots[name] = terminal or frozenset({name})
    return roots


def nickname_roots_of(given_key: str) -> frozenset[str]:
    """The formal roots of a given-name key; the key itself when it is not in the table."""
    return nickname_roots().get(given_key, frozenset({given_key}) if given_key else frozenset())


@functools.cache
def _forms_by_root() -> dict[str, frozenset[str]]:
    forms: dict[str, set[str]] = {}
    for name, roots in nickname_roots().items():
        for root in roots:
            forms.setdefault(root, set()).add(name)
    return {root: frozenset(names) for root, names in forms.items()}


@functools.lru_cache(maxsize=65_536)
def familiar_forms(given_key: str) -> frozenset[str]:
    """Every given-name key that is a familiar form of this one (ISSY -> ISOBEL, ISABELLA,
    IZZY...), itself included: the names a source may report the same child under."""
    if not given_key:
        return frozenset()
    forms = {given_key}
    for root in nickname_roots_of(given_key):
        forms |= _forms_by_root().get(root, frozenset())
    return frozenset(forms)


@functools.lru_cache(maxsize=65_536)  # households repeat: each child's records, siblings, carers
def address_key(line_1: str) -> str:
    """'14, Victoria Road' and '14 Victoria Rd' both give '14 VICTORIA RD'."""
    tokens = _ADDRESS_TOKEN.findall(normalise.fold_accents(line_1 or "").upper())
    return " ".join(t for t in (_STREET_WORDS.get(tok, tok) for tok in tokens) if t)


def known_gender(gender: str) -> str:
    """The gender when it says something (female or male); empty otherwise."""
    return "" if gender in _UNKNOWN_GENDERS else gender


@dataclass(frozen=True, slots=True)
class PersonName:
    """One name as keys: first given name, every given word, family name, and phonetic codes."""

    given: str
    given_words: tuple[str, ...]
    family: str
    given_phonetic: str
    family_phonetic: str
    nickname_roots: frozenset[str]

    @classmethod
    def of(cls, given_names: str, family_name: str) -> PersonName:
        given = normalise.first_given_name_key(given_names)
        return cls(
            given=given,
            given_words=tuple(normalise.name_parts(given_names)),
            family=normalise.name_key(family_name),
            given_phonetic=normalise.phonetic_key(given),
            family_phonetic=normalise.phonetic_key(family_name),
            nickname_roots=nickname_roots_of(given),
        )


@dataclass(frozen=True, slots=True)
class PlaceKey:
    """An address as the matcher sees it: canonical postcode, its sector and district, line key."""

    postcode: str
    sector: str
    district: str
    line_key: str

    @classmethod
    def of(cls, postcode: str, line_1: str) -> PlaceKey | None:
        try:
            parsed = normalise.parse_postcode(postcode)
        except normalise.InvalidPostcode:
            return None
        return cls(str(parsed), parsed.sector, parsed.district, address_key(line_1))


@dataclass(slots=True)
class MatchRecord:
    """A record reduced to what the Fellegi-Sunter comparisons look at.

    Tuples are ordered current-first, so the incoming record's first entries are what its
    source says now. `child_id` is set for candidates from the index, None for incoming.
    """

    names: tuple[PersonName, ...]
    date_of_birth: dt.date
    gender: str
    places: tuple[PlaceKey, ...] = ()
    carers: tuple[tuple[str, str], ...] = ()  # (first given-name key, family-name key)
    school_urns: frozenset[str] = frozenset()
    gp_codes: frozenset[str] = frozenset()
    nhs_hashes: frozenset[str] = frozenset()
    child_id: int | None = None
    is_shielded: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def primary_name(self) -> PersonName:
        return self.names[0]


def from_child_record(record: ChildRecord, *, nhs_hash: str = "") -> MatchRecord:
    """The incoming side: a source record as reported (current name first)."""
    ordered = sorted(record.names, key=lambda n: n.kind != NameKind.CURRENT)
    places = [PlaceKey.of(a.postcode, a.line_1) for a in record.addresses]
    return MatchRecord(
        names=tuple(PersonName.of(n.given_names, n.family_name) for n in ordered),
        date_of_birth=record.date_of_birth,
        gender=known_gender(record.gender),
        places=tuple(p for p in places if p is not None),
        carers=tuple(
            (normalise.first_given_name_key(c.given_names), normalise.name_key(c.family_name))
            for c in record.carers
        ),
        school_urns=frozenset(e.school_urn for e in record.enrolments),
        gp_codes=frozenset(g.practice_ods_code for g in record.gp_registrations),
        nhs_hashes=frozenset({nhs_hash}) if nhs_hash else frozenset(),
        is_shielded=record.is_shielded,
    )


def from_merged_child(
    merged: MergedChild, *, nhs_hashes: frozenset[str], child_id: int, is_shielded: bool
) -> MatchRecord:
    """The candidate side of a child not yet written: as blocking.load_profiles would read it
    back (every name and address the merge keeps, current first), with its records' NHS
    numbers."""
    names = sorted(merged.names, key=lambda pair: pair[0].kind != NameKind.CURRENT)
    addresses = sorted(merged.addresses, key=lambda pair: pair[0].kind == AddressKind.PREVIOUS)
    places = [PlaceKey.of(a.postcode, a.line_1) for a, _ in addresses]
    return MatchRecord(
        names=tuple(PersonName.of(n.given_names, n.family_name) for n, _ in names),
        date_of_birth=merged.date_of_birth,
        gender=known_gender(merged.gender),
        places=tuple(p for p in places if p is not None),
        carers=tuple(
            (normalise.first_given_name_key(c.given_names), normalise.name_key(c.family_name))
            for c, _ in merged.carers
        ),
        school_urns=frozenset(e.school_urn for e, _ in merged.enrolments),
        gp_codes=frozenset(g.practice_ods_code for g, _ in merged.gp_registrations),
        nhs_hashes=nhs_hashes,
        child_id=child_id,
        is_shielded=is_shielded,
    )


# Compared on every candidate pair, and birth dates are few (about 6,600 in 18 years): cached.
@functools.lru_cache(maxsize=65_536)
def dob_text(value: dt.date) -> str:
    """The date as YYYYMMDD: the form the one-digit and transposition levels compare."""
    return value.strftime("%Y%m%d")


# "Born within a year" wherever matching says so (comparisons' same_year level, blocking's and
# the shield net's nearby births, the batch's own index, Splink's rules): 366 days, so that the
# same date a year on is within it in a leap year too.
WITHIN_A_YEAR_DAYS = 366


def swapped_day_month(value: dt.date) -> dt.date | None:
    """The date with day and month exchanged (3 Apr <-> 4 Mar), when that is a real date."""
    if value.day > 12 or value.day == value.month:
        return None
    try:
        return value.replace(month=value.day, day=value.month)
    except ValueError:
        return None


def distinct(values: Iterable[str]) -> tuple[str, ...]:
    """Non-empty values in first-seen order, without repeats."""
    return tuple(dict.fromkeys(v for v in values if v))
