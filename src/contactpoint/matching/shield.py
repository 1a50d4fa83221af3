"""The shield net: every shielded child, held in memory, searched loosely for each record.

Blocking pairs records that agree on two keys. A report of a shielded child can disagree on
both (a new surname and a mistyped date of birth, from a source that never heard of the move
to a refuge): exactly the report that in 2009 became an unshielded duplicate. Shielded children
are few (hundreds per local authority), so every incoming record is compared with each one whose
date of birth is a typing error away, or that shares a given or family name and was born within
a year. Those candidates are scored in full; decisions.py sends the record to review when one
scores above the shield floor.

The net is loaded once per load and refreshed every `refresh_seconds`, and the loader adds the
children it shields itself. A child shielded by an officer in the last minute is still caught
by blocking.find_shielded, which reads the database for each batch.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection

from contactpoint.index.models import Child, ChildName
from contactpoint.matching.features import (
    WITHIN_A_YEAR_DAYS,
    MatchRecord,
    dob_text,
    swapped_day_month,
)

_A_YEAR = dt.timedelta(days=WITHIN_A_YEAR_DAYS)


def dob_variants(value: dt.date) -> set[dt.date]:
    """Every real date one typing error away: one digit changed, two swapped, day/month swapped."""
    text = dob_text(value)
    found: set[dt.date] = {value}
    swapped = swapped_day_month(value)
    if swapped:
        found.add(swapped)
    candidates: list[str] = []
    for i in range(8):
        candidates.extend(text[:i] + d + text[i + 1 :] for d in "0123456789")
        if i < 7:
            candidates.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    for candidate in candidates:
        try:
            found.add(dt.date(int(candidate[:4]), int(candidate[4:6]), int(candidate[6:])))
        except ValueError:
            continue
    return found


@dataclass
class _Entry:
    child_id: int
    date_of_birth: dt.date


@dataclass
class ShieldNet:
    """Shielded children by date of birth, given-name key and family-name key."""

    refresh_seconds: float = 60.0
    _by_dob: dict[dt.date, set[int]] = field(default_factory=dict)
    # By name and year of birth: a record is looked up under the years its year either side
    # spans (two or three), so it meets only children of nearby ages.
    _by_given: dict[tuple[str, int], set[int]] = field(default_factory=dict)
    _by_family: dict[tuple[str, int], set[int]] = field(default_factory=dict)
    _dob: dict[int, dt.date] = field(default_factory=dict)
    _loaded_at: float = 0.0

    def refresh_if_due(self) -> None:
        if time.monotonic() - self._loaded_at >= self.refresh_seconds:
            self.load()

    def load(self) -> None:
        """Read every shielded child and their names (uses the partial shielded index)."""
        self._by_dob.clear()
        self._by_given.clear()
        self._by_family.clear()
        self._dob.clear()
        self._read("WHERE c.is_shielded", [])
        self._loaded_at = time.monotonic()

    def add_children(self, child_ids: list[int]) -> None:
        """Children just shielded in this process's transaction, read from the database."""
        if child_ids:
            placeholders = ", ".join(["%s"] * len(child_ids))
            self._read(f"WHERE c.is_shielded AND c.id IN ({placeholders})", child_ids)

    def _read(self, where: str, params: list[int]) -> None:
        child_table, name_table = Child._meta.db_table, ChildName._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT c.id, c.date_of_birth, n.given_name_key, n.family_name_key, "  # noqa: S608
                f"n.family_name_phonetic FROM {child_table} c "
                f"JOIN {name_table} n ON n.child_id = c.id {where}",
                params,
            )
            for child_id, dob, given, family, family_phonetic in cursor.fetchall():
                born = dob if isinstance(dob, dt.date) else dt.date.fromisoformat(str(dob))
                self._add(child_id, born, (given,), (family, family_phonetic))

    def add(self, child_id: int, record: MatchRecord) -> None:
        """A child this load has just shielded (before the next refresh would see it)."""
        self._add(
            child_id,
            record.date_of_birth,
            tuple(n.given for n in record.names),
            tuple(k for n in record.names for k in (n.family, n.family_phonetic)),
        )

    def _add(
        self, child_id: int, born: dt.date, givens: Iterable[str], families: Iterable[str]
    ) -> None:
        if child_id not in self._dob:
            # Indexed under every date one typing error from it (the relation is symmetric),
            # so each incoming record needs one lookup rather than eighty.
            for day in dob_variants(born):
                self._by_dob.setdefault(day, set()).add(child_id)
        self._dob[child_id] = born
        for given in givens:
            if given:
                self._by_given.setdefault((given, born.year), set()).add(child_id)
        for family in families:
            if family:
                self._by_family.setdefault((family, born.year), set()).add(child_id)

    def candidates(self, record: MatchRecord) -> set[int]:
        """Shielded children this record could be, loosely."""
        if not self._dob:
            return set()
        born = record.date_of_birth
        # Born a typing error away; then, below, sharing a name and born within a year.
        found = set(self._by_dob.get(born, ()))
        near: set[int] = set()
        for year in range((born - _A_YEAR).year, (born + _A_YEAR).year + 1):
            for name in record.names:
                near.update(self._by_given.get((name.given, year), ()))
                near.update(self._by_family.get((name.family, year), ()))
                near.update(self._by_family.get((name.family_phonetic, year), ()))
        found.update(
            c for c in near - found if abs((born - self._dob[c]).days) <= WITHIN_A_YEAR_DAYS
        )
        return found

    def __len__(self) -> int:
        return len(self._dob)

    def __contains__(self, child_id: object) -> bool:
        return child_id in self._dob
