"""Children decided as new earlier in the same batch, findable by the rest of the batch.

They are not in the database until the batch is written, so the database blocking rules cannot
see them; this in-memory index applies the same rules to them. Without it, two reports of one
new child in one batch would create two children.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from contactpoint.matching.features import WITHIN_A_YEAR_DAYS, MatchRecord, swapped_day_month


def _keys(record: MatchRecord) -> Iterator[tuple[str, ...]]:
    dobs = [record.date_of_birth]
    swapped = swapped_day_month(record.date_of_birth)
    if swapped:
        dobs.append(swapped)
    for name in record.names:
        for dob in dobs:
            yield ("family", name.family_phonetic, dob.isoformat())
            yield ("given", name.given, dob.isoformat())
        yield ("phonetics", *sorted((name.family_phonetic, name.given_phonetic)))
    for place in record.places:
        for dob in dobs:
            yield ("postcode", place.postcode, dob.isoformat())


class PendingChildren:
    """New children of the current batch, keyed by placeholder ids -1, -2, ..."""

    def __init__(self, *, source: str = "") -> None:
        self.source = source  # every pending child so far has a record from this source
        self._records: dict[int, MatchRecord] = {}
        self._index: dict[tuple[str, ...], set[int]] = {}

    def add(self, record: MatchRecord) -> int:
        key = -(len(self._records) + 1)
        stored = dataclasses.replace(
            record, child_id=key, extra={"contactpoint_id": "", "sources": frozenset({self.source})}
        )
        self._records[key] = stored
        for block in _keys(record):
            self._index.setdefault(block, set()).add(key)
        return key

    def candidates(self, record: MatchRecord) -> list[tuple[MatchRecord, str]]:
        found: dict[int, str] = {}
        for block in _keys(record):
            for key in self._index.get(block, ()):
                other = self._records[key]
                if (
                    block[0] == "phonetics"
                    and abs((other.date_of_birth - record.date_of_birth).days) > WITHIN_A_YEAR_DAYS
                ):
                    continue
                found.setdefault(key, f"batch_{block[0]}")
        return [(self._records[key], rule) for key, rule in found.items()]

    def record(self, key: int) -> MatchRecord:
        return self._records[key]

    def __len__(self) -> int:
        return len(self._records)
