"""Blocking: finding the few children an incoming record could be, with indexed lookups only.

Each rule pairs records that agree on a cheap key; a candidate found by any rule is scored in
full. The rules are chosen so that each kind of error in one field leaves another rule intact:
a typo in the surname still shares date of birth and first name; a wrong date of birth still
shares both names; swapped names share the phonetic pair crosswise; a new surname shares date
of birth and first name. Every lookup batches a whole chunk of records into one query.

Shielded children get one more, broader rule: every shielded child born on the same day (or
with day and month swapped) is scored, so a shielded child cannot be missed because two of its
fields were reported differently (issue 5: the 2009 unshielded duplicate).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from rapidfuzz.distance import DamerauLevenshtein

from contactpoint.index import normalise
from contactpoint.index.linkage import member_clauses
from contactpoint.index.models import (
    Address,
    Carer,
    Child,
    ChildName,
    GpPractice,
    GpRegistration,
    School,
    SchoolEnrolment,
)
from contactpoint.index.vocabularies import AddressKind, NameKind
from contactpoint.matching.features import (
    WITHIN_A_YEAR_DAYS,
    MatchRecord,
    PersonName,
    PlaceKey,
    dob_text,
    familiar_forms,
    known_gender,
    swapped_day_month,
)

# Chunks keep each IN (VALUES ...) list well inside SQLite's parameter limit.
_CHUNK = 400


@dataclass(frozen=True)
class BlockingRule:
    name: str
    description: str


BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule(
        "dob_family_phonetic",
        "Same date of birth (or day and month swapped) and a family name that sounds the same",
    ),
    BlockingRule("dob_given", "Same date of birth and the same first given name"),
    BlockingRule(
        "dob_familiar",
        "Same date of birth and a first given name that is a familiar form of the other "
        "(Issy and Isobel, Ned and Edward)",
    ),
    BlockingRule(
        "dob_postcode", "The same postcode and a date of birth a typing error away (or the same)"
    ),
    BlockingRule(
        "names_phonetic",
        "Given and family names that sound the same, either way round, and a date of birth a "
        "typing error away",
    ),
    BlockingRule("nhs_number", "The same scrambled NHS number (looked up by feeds)"),
    BlockingRule("shielded_dob", "Any shielded child born the same day, or with day/month swapped"),
    BlockingRule(
        "shielded_near",
        "Any shielded child born a typing error away, or sharing a name and born within a year "
        "(matching.shield.ShieldNet)",
    ),
)


def dob_close(a: dt.date, b: dt.date) -> bool:
    """Dates a typing error could turn one into the other: within a year, one digit or two
    adjacent digits apart, or day and month swapped."""
    if abs((a - b).days) <= WITHIN_A_YEAR_DAYS:
        return True
    return DamerauLevenshtein.distance(dob_text(a), dob_text(b)) <= 1 or swapped_day_month(a) == b


def _dobs(record: MatchRecord) -> list[dt.date]:
    swapped = swapped_day_month(record.date_of_birth)
    return [record.date_of_birth, *([swapped] if swapped else [])]


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _tuple_lookup(
    table: str,
    key_columns: Sequence[str],
    extra: Sequence[str],
    keys: set[tuple[Any, ...]],
    types: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Rows whose key columns equal one of `keys`: (key..., extra...) for each match.

    PostgreSQL joins the keys as unnest()ed arrays: one fixed statement whatever the number of
    keys, so psycopg and the server parse it once. SQLite takes an IN (VALUES ...) list.
    """
    found: list[tuple[Any, ...]] = []
    if not keys:
        return found
    width = len(key_columns)
    selected = ", ".join([*key_columns, *extra])
    ordered = sorted(keys)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{t}[]" for t in types)
            names = ", ".join(f"k{i}" for i in range(width))
            joined = " AND ".join(f"{c} = k.k{i}" for i, c in enumerate(key_columns))
            cursor.execute(
                f"SELECT {selected} FROM {table} "  # noqa: S608 (identifiers are constants)
                f"JOIN unnest({arrays}) AS k({names}) ON {joined}",
                [[k[i] for k in ordered] for i in range(width)],
            )
            return list(cursor.fetchall())
        row_marks = "(" + ", ".join(["%s"] * width) + ")"
        cols = ", ".join(key_columns)
        for chunk in _chunks(ordered):
            values = ", ".join([row_marks] * len(chunk))
            cursor.execute(
                f"SELECT {selected} FROM {table} "  # noqa: S608 (identifiers are constants)
                f"WHERE ({cols}) IN (VALUES {values})",
                [v for k in chunk for v in k],
            )
            found.extend(cursor.fetchall())
    return found


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def find_candidates(records: Sequence[MatchRecord]) -> list[dict[int, str]]:
    """For each record, the candidate child ids and the first rule that found each."""
    found: list[dict[int, str]] = [{} for _ in records]
    names_table = ChildName._meta.db_table

    by_family: dict[tuple[str, dt.date], list[int]] = {}
    by_given: dict[tuple[str, dt.date], list[int]] = {}
    # A child reported by a nickname by one source and the formal name by another shares
    # neither the given name nor, often, its sound; a surname change then leaves no key.
    by_familiar: dict[tuple[str, dt.date], list[int]] = {}
    by_postcode: dict[str, list[int]] = {}
    by_phonetics: dict[tuple[str, str], list[int]] = {}
    for index, record in enumerate(records):
        name = record.primary_name
        for dob in _dobs(record):
            if name.family_phonetic:
                by_family.setdefault((name.family_phonetic, dob), []).append(index)
            if name.given:
                by_given.setdefault((name.given, dob), []).append(index)
                for form in familiar_forms(name.given) - {name.given}:
                    by_familiar.setdefault((form, dob), []).append(index)
        for place in record.places[:1]:
            by_postcode.setdefault(place.postcode, []).append(index)
        if name.family_phonetic and name.given_phonetic:
            by_phonetics.setdefault((name.family_phonetic, name.given_phonetic), []).append(index)
            by_phonetics.setdefault((name.given_phonetic, name.family_phonetic), []).append(index)

    def _add(indexes: list[int], child_id: int, rule: str) -> None:
        for index in indexes:
            found[index].setdefault(child_id, rule)

    for phon, dob, child_id in _tuple_lookup(
        names_table,
        ("family_name_phonetic", "date_of_birth"),
        ("child_id",),
        set(by_family),
        ("text", "date"),
    ):
        _add(by_family.get((phon, _as_date(dob)), []), child_id, "dob_family_phonetic")
    for given, dob, child_id in _tuple_lookup(
        names_table,
        ("given_name_key", "date_of_birth"),
        ("child_id",),
        set(by_given) | set(by_familiar),
        ("text", "date"),
    ):
        born = _as_date(dob)
        _add(by_given.get((given, born), []), child_id, "dob_given")
        _add(by_familiar.get((given, born), []), child_id, "dob_familiar")
    address_table = f"{Address._meta.db_table} a JOIN {Child._meta.db_table} c ON c.id = a.child_id"
    for postcode, child_id, dob in _tuple_lookup(
        address_table,
        ("a.postcode",),
        ("a.child_id", "c.date_of_birth"),
        {(p,) for p in by_postcode},
        ("text",),
    ):
        born = _as_date(dob)
        for index in by_postcode.get(postcode, []):
            if dob_close(records[index].date_of_birth, born):
                found[index].setdefault(child_id, "dob_postcode")
    for family_phon, given_phon, child_id, dob in _tuple_lookup(
        names_table,
        ("family_name_phonetic", "given_name_phonetic"),
        ("child_id", "date_of_birth"),
        set(by_phonetics),
        ("text", "text"),
    ):
        born = _as_date(dob)
        for index in by_phonetics.get((family_phon, given_phon), []):
            if dob_close(records[index].date_of_birth, born):
                found[index].setdefault(child_id, "names_phonetic")
    return found


def rule_between(record: MatchRecord, child: MatchRecord) -> str:
    """The first rule of find_candidates that would find `child` for `record`, or ''.

    For a child held in memory as load_profiles would read it back (every name and address,
    the one date of birth): the same keys on both sides, so the same answer as the database.
    """
    name = record.primary_name
    if child.date_of_birth in _dobs(record):
        if name.family_phonetic and any(
            n.family_phonetic == name.family_phonetic for n in child.names
        ):
            return "dob_family_phonetic"
        givens = {n.given for n in child.names}
        if name.given and name.given in givens:
            return "dob_given"
        if name.given and (familiar_forms(name.given) - {name.given}) & givens:
            return "dob_familiar"
    if not dob_close(record.date_of_birth, child.date_of_birth):
        return ""
    if record.places and any(p.postcode == record.places[0].postcode for p in child.places):
        return "dob_postcode"
    if name.family_phonetic and name.given_phonetic:
        pairs = {(n.family_phonetic, n.given_phonetic) for n in child.names}
        if {
            (name.family_phonetic, name.given_phonetic),
            (name.given_phonetic, name.family_phonetic),
        } & pairs:
            return "names_phonetic"
    return ""


def find_shielded(records: Sequence[MatchRecord]) -> list[set[int]]:
    """For each record, the shielded children born on its date (or with day/month swapped)."""
    wanted: dict[dt.date, list[int]] = {}
    for index, record in enumerate(records):
        for dob in _dobs(record):
            wanted.setdefault(dob, []).append(index)
    result: list[set[int]] = [set() for _ in records]
    table = Child._meta.db_table
    with connection.cursor() as cursor:
        # Uses the partial index child_shielded_dob (index migration 0003).
        for clause, params in member_clauses("date_of_birth", sorted(wanted), "date"):
            cursor.execute(
                f"SELECT id, date_of_birth FROM {table} WHERE is_shielded AND {clause}",  # noqa: S608
                params,
            )
            for child_id, dob in cursor.fetchall():
                for index in wanted.get(_as_date(dob), []):
                    result[index].add(child_id)
    return result


@functools.lru_cache(maxsize=262_144)
def _person_name(given_names: str, family_name: str) -> PersonName:
    return PersonName.of(given_names, family_name)


@functools.lru_cache(maxsize=65_536)
def first_given_key(given_names: str) -> str:
    return normalise.first_given_name_key(given_names)


def _in_chunks(sql: str, column: str, ids: list[int], cursor: Any) -> Iterable[tuple[Any, ...]]:
    """Run `sql` (with a {where} slot for `column IN ids`) over all the ids."""
    for clause, params in member_clauses(column, ids, "bigint"):
        cursor.execute(sql.format(where=clause), params)
        yield from cursor.fetchall()


def load_profiles(child_ids: Iterable[int]) -> dict[int, MatchRecord]:
    """Everything the comparisons need about these children, in six queries per chunk."""
    ids = sorted(set(child_ids))
    if not ids:
        return {}
    t = {
        m: m._meta.db_table
        for m in (
            Child,
            ChildName,
            Address,
            Carer,
            SchoolEnrolment,
            School,
            GpRegistration,
            GpPractice,
        )
    }
    names: dict[int, list[tuple[int, PersonName]]] = {}
    places: dict[int, list[tuple[int, PlaceKey]]] = {}
    carers: dict[int, list[tuple[str, str]]] = {}
    schools: dict[int, set[str]] = {}
    practices: dict[int, set[str]] = {}
    profiles: dict[int, MatchRecord] = {}
    with connection.cursor() as cursor:
        for child_id, given, family, kind in _in_chunks(
            f"SELECT child_id, given_names, family_name, kind FROM {t[ChildName]} "  # noqa: S608
            "WHERE {where}",
            "child_id",
            ids,
            cursor,
        ):
            order = 0 if kind == NameKind.CURRENT else 1
            names.setdefault(child_id, []).append((order, _person_name(given, family)))
        for child_id, postcode, line_1, kind in _in_chunks(
            f"SELECT child_id, postcode, line_1, kind FROM {t[Address]} "  # noqa: S608
            "WHERE {where}",
            "child_id",
            ids,
            cursor,
        ):
            place = PlaceKey.of(postcode, line_1)
            if place is not None:
                order = 1 if kind == AddressKind.PREVIOUS else 0
                places.setdefault(child_id, []).append((order, place))
        for child_id, given, family_key in _in_chunks(
            f"SELECT child_id, given_names, family_name_key FROM {t[Carer]} "  # noqa: S608
            "WHERE {where}",
            "child_id",
            ids,
            cursor,
        ):
            carers.setdefault(child_id, []).append((first_given_key(given), family_key))
        for child_id, urn in _in_chunks(
            f"SELECT e.child_id, s.urn FROM {t[SchoolEnrolment]} e "  # noqa: S608
            f"JOIN {t[School]} s ON s.id = e.school_id WHERE {{where}}",
            "e.child_id",
            ids,
            cursor,
        ):
            schools.setdefault(child_id, set()).add(urn)
        for child_id, code in _in_chunks(
            f"SELECT g.child_id, p.ods_code FROM {t[GpRegistration]} g "  # noqa: S608
            f"JOIN {t[GpPractice]} p ON p.id = g.practice_id WHERE {{where}}",
            "g.child_id",
            ids,
            cursor,
        ):
            practices.setdefault(child_id, set()).add(code)
        for child_id, dob, gender, shielded, cp_id, la_id in _in_chunks(
            "SELECT id, date_of_birth, gender, is_shielded, contactpoint_id, responsible_la_id "  # noqa: S608
            f"FROM {t[Child]} WHERE {{where}}",
            "id",
            ids,
            cursor,
        ):
            child_names = [n for _, n in sorted(names.get(child_id, []), key=lambda p: p[0])]
            if not child_names:
                continue  # a child without a name cannot be compared (and cannot exist)
            profiles[child_id] = MatchRecord(
                names=tuple(child_names),
                date_of_birth=_as_date(dob),
                gender=known_gender(gender),
                places=tuple(p for _, p in sorted(places.get(child_id, []), key=lambda p: p[0])),
                carers=tuple(carers.get(child_id, [])),
                school_urns=frozenset(schools.get(child_id, set())),
                gp_codes=frozenset(practices.get(child_id, set())),
                child_id=child_id,
                is_shielded=bool(shielded),
                extra={"contactpoint_id": cp_id, "responsible_la_id": la_id},
            )
    return profiles
