"""Candidate retrieval: the few children worth scoring, found only through indexed lookups.

Every lookup here is an equality or range condition on an index of index.ChildName,
index.Child or index.Address (see index/models.py); nothing scans a table or uses
LIKE '%...%' (the one LIKE is a one-letter prefix filter applied after an index lookup):

- a whole date of birth: every name of every child born on that date or its day/month swap
  (Child.date_of_birth, index child_dob), so any misspelling of the names is still scored;
  and names whose family key, family phonetic or given key agree, born on a date one part
  away (name_family_dob, name_fphon_dob, name_given_dob with a list of ~50 dates);
- a year, month or age range: the same three name indexes over the date range;
- a postcode: every child with an address at that postcode (address_postcode);
- a district or local authority: names whose family and given phonetics both agree
  (name_phonetics), filtered to the district (address_district) or authority.

Each name lookup is made for the names as typed and, when both are given, swapped. The SQL
is written out rather than built by the ORM because this is the hot path: all the lookups of
one search go to the database as ONE statement (UNION ALL of OR'd index conditions), with
lists sent as a single array parameter on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from contactpoint.index import normalise
from contactpoint.index.models import Address, Child, ChildName
from contactpoint.search.criteria import SearchCriteria
from contactpoint.search.dates import exact_variants, nearby_dates
from contactpoint.search.names import given_name_variants, surname_parts

# More candidate names than this means the search is far too broad to answer with a handful
# of matches; the answer is then "too many matches", never a partial list.
PROBE_ROW_LIMIT = 5_000

NAMES = ChildName._meta.db_table
CHILDREN = Child._meta.db_table
ADDRESSES = Address._meta.db_table
# SQL text is only ever built from these constants and from fragments whose values travel as
# parameters (the Sql class below); nothing typed by a person is put into the text.
_SELECT_NAMES = (
    f"SELECT n.child_id, n.kind, n.given_names, n.family_name, n.date_of_birth FROM {NAMES} n"  # noqa: S608
)


class TooBroad(Exception):
    """The criteria reach more candidates than can be a handful of matches."""


@dataclass(frozen=True, slots=True)
class NameRow:
    child_id: int
    kind: str
    given_names: str
    family_name: str
    date_of_birth: dt.date


@dataclass(frozen=True)
class Orientation:
    """The names to look for: as typed, or given and family swapped."""

    family: str
    given: str
    swapped: bool

    @property
    def family_key(self) -> str:
        return normalise.name_key(self.family)

    @property
    def family_keys(self) -> frozenset[str]:
        return (frozenset({self.family_key}) | surname_parts(self.family)) - {""}

    @property
    def family_phonetics(self) -> frozenset[str]:
        return frozenset(normalise.phonetic_key(key) for key in self.family_keys) - {""}

    @property
    def given_key(self) -> str:
        return normalise.first_given_name_key(self.given)

    @property
    def given_keys(self) -> frozenset[str]:
        return given_name_variants(self.given_key) if self.given_key else frozenset()

    @property
    def given_phonetics(self) -> frozenset[str]:
        return frozenset(normalise.phonetic_key(key) for key in self.given_keys) - {""}


def orientations(criteria: SearchCriteria) -> tuple[Orientation, ...]:
    typed = Orientation(criteria.family_name, criteria.given_name, swapped=False)
    if not criteria.given_name:
        return (typed,)
    return typed, Orientation(criteria.given_name, criteria.family_name, swapped=True)


def _as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


@dataclass(frozen=True)
class Sql:
    """A fragment of SQL with its parameters, in order; fragments compose with & and |."""

    text: str
    params: tuple[Any, ...] = ()

    def __and__(self, other: Sql) -> Sql:
        return Sql(f"({self.text} AND {other.text})", self.params + other.params)

    def __or__(self, other: Sql) -> Sql:
        return Sql(f"({self.text} OR {other.text})", self.params + other.params)


def _arrays() -> bool:
    return connection.vendor == "postgresql"


def _value(value: Any) -> Any:
    # SQLite keeps dates as ISO text; PostgreSQL takes date objects (and date arrays).
    return value.isoformat() if isinstance(value, dt.date) and not _arrays() else value


def one_of(column: str, values: Iterable[Any]) -> Sql:
    ordered = sorted(set(values))
    if not ordered:
        return Sql("1 = 0")
    if _arrays():  # one parameter, one plan, however long the list
        return Sql(f"{column} = ANY(%s)", (ordered,))
    return Sql(
        f"{column} IN ({', '.join(['%s'] * len(ordered))})", tuple(_value(v) for v in ordered)
    )


def equals(column: str, value: Any) -> Sql:
    return Sql(f"{column} = %s", (_value(value),))


def between(column: str, low: Any, high: Any) -> Sql:
    return Sql(f"{column} BETWEEN %s AND %s", (_value(low), _value(high)))


def starts_with_letter(column: str, key: str) -> Sql:
    # Keys are A-Z only (index.normalise.name_key), so the pattern needs no escaping.
    return Sql(f"{column} LIKE %s", (f"{key[:1]}%",))


def any_of(fragments: Iterable[Sql]) -> Sql:
    parts = list(fragments)
    return Sql(
        "(" + " OR ".join(p.text for p in parts) + ")", tuple(x for p in parts for x in p.params)
    )


def _date_probes(way: Orientation, dates: list[Sql], *, nicknames: bool = True) -> list[Sql]:
    """Family key, family phonetic and given key lookups, each on its (key, dob) index.

    Each of `dates` (a range, or a list) makes its own branch so that every branch is a plain
    index condition. With both names searched, the other name must roughly agree too (its
    phonetic or first letter): that keeps common surnames from flooding the candidates over a
    date range; a typo in both names at once is left to the whole-date and postcode lookups.
    """
    given_keys = way.given_keys if nicknames else frozenset({way.given_key})
    probes: list[Sql] = []
    for when in dates:
        by_family = [
            one_of("n.family_name_key", way.family_keys) & when,
            one_of("n.family_name_phonetic", way.family_phonetics) & when,
        ]
        if not way.given_key:
            probes += by_family
            continue
        given_roughly = one_of("n.given_name_phonetic", way.given_phonetics) | starts_with_letter(
            "n.given_name_key", way.given_key
        )
        family_roughly = one_of(
            "n.family_name_phonetic", way.family_phonetics
        ) | starts_with_letter("n.family_name_key", way.family_key)
        probes += [
            *(probe & given_roughly for probe in by_family),
            one_of("n.given_name_key", given_keys) & when & family_roughly,
        ]
    return probes


def _phonetic_pair_probe(way: Orientation) -> Sql:
    """Both phonetics agree (index name_phonetics): for district and LA searches."""
    return one_of("n.family_name_phonetic", way.family_phonetics) & one_of(
        "n.given_name_phonetic", way.given_phonetics
    )


def _names_where(condition: Sql, *, join_children: bool = False) -> Sql:
    join = f" JOIN {CHILDREN} c ON c.id = n.child_id" if join_children else ""
    return Sql(f"{_SELECT_NAMES}{join} WHERE {condition.text}", condition.params)


def candidate_statement(criteria: SearchCriteria) -> Sql | None:
    """The one statement that finds every name worth scoring, or None if there is nothing."""
    ways = [way for way in orientations(criteria) if way.family_keys]
    if not ways:
        return None
    parts: list[Sql] = []
    born = criteria.date_of_birth
    if born is not None:
        # Everyone born that day (or on its day/month swap): misspelt names still get scored.
        parts.append(
            _names_where(one_of("c.date_of_birth", exact_variants(born)), join_children=True)
        )
        # A date one part wrong, with names typed right (a nickname on the exact date is
        # already among everyone born that day). Without a given name a wrong date leaves only
        # the family name, too weak to look for: then only the exact date and its swap.
        if criteria.given_name:
            nearby = nearby_dates(born)
            dates = [
                between("n.date_of_birth", *nearby.month),
                one_of("n.date_of_birth", nearby.others),
            ]
        else:
            dates = [one_of("n.date_of_birth", exact_variants(born))]
        probes = [p for way in ways for p in _date_probes(way, dates, nicknames=False)]
        parts.append(_names_where(any_of(probes)))
    else:
        if criteria.postcode:
            at_postcode = equals("a.postcode", criteria.postcode)
            parts.append(
                _names_where(
                    Sql(
                        f"n.child_id IN (SELECT a.child_id FROM {ADDRESSES} a WHERE {at_postcode.text})",  # noqa: S608
                        at_postcode.params,
                    )
                )
            )
        birth_range = criteria.birth_range
        if birth_range is not None:
            dates = [between("n.date_of_birth", *birth_range)]
            parts.append(_names_where(any_of(p for way in ways for p in _date_probes(way, dates))))
        elif criteria.postcode_district or criteria.local_authority_id is not None:
            pairs = [_phonetic_pair_probe(way) for way in ways if way.given_phonetics]
            if pairs:
                condition = any_of(pairs)
                if criteria.postcode_district:
                    district = equals("a.postcode_district", criteria.postcode_district)
                    condition = condition & Sql(
                        f"EXISTS (SELECT 1 FROM {ADDRESSES} a WHERE a.child_id = n.child_id "  # noqa: S608
                        f"AND {district.text})",
                        district.params,
                    )
                if criteria.local_authority_id is not None:
                    condition = condition & equals(
                        "c.responsible_la_id", criteria.local_authority_id
                    )
                parts.append(
                    _names_where(condition, join_children=criteria.local_authority_id is not None)
                )
    if not parts:
        return None
    union = " UNION ALL ".join(p.text for p in parts)
    params = tuple(x for p in parts for x in p.params)
    if criteria.uses_hidden_field:
        # A search on a hidden field never returns a shielded child, so none may count
        # towards the probe limit either: "too many" must not depend on them (issue 7).
        union = (
            f"SELECT q.* FROM ({union}) q WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {CHILDREN} s WHERE s.id = q.child_id AND s.is_shielded)"
        )
    return Sql(union + " LIMIT %s", (*params, PROBE_ROW_LIMIT + 1))


def find_candidate_names(criteria: SearchCriteria) -> list[NameRow]:
    """Every name row worth scoring for these criteria (a child may appear more than once)."""
    statement = candidate_statement(criteria)
    if statement is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(statement.text, list(statement.params))
        rows = cursor.fetchall()
    if len(rows) > PROBE_ROW_LIMIT:
        raise TooBroad
    return [
        NameRow(child_id, kind, given, family, _as_date(born))
        for child_id, kind, given, family, born in rows
    ]
