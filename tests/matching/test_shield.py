"""The shield net finds exactly the shielded children its definition names, however indexed."""

from __future__ import annotations

import datetime as dt
import random

from rapidfuzz.distance import DamerauLevenshtein

from contactpoint.matching.features import MatchRecord, PersonName, dob_text, swapped_day_month
from contactpoint.matching.shield import ShieldNet

GIVEN = ["Amelia", "Isla", "Noah", "Leo", "Ava", "Theo", "Mia", "Oliver"]
FAMILY = ["O'Neill", "ONeil", "Khan", "Kahn", "Smith", "Smyth", "Nowak", "Shah"]


def _someone(rng: random.Random) -> MatchRecord:
    born = dt.date(2008, 1, 1) + dt.timedelta(days=rng.randrange(18 * 365))
    names = tuple(
        PersonName.of(rng.choice(GIVEN), rng.choice(FAMILY)) for _ in range(rng.randint(1, 2))
    )
    return MatchRecord(names=names, date_of_birth=born, gender="female")


def _resembles(record: MatchRecord, child: MatchRecord) -> bool:
    """The net's definition: born a typing error away (one digit, two adjacent digits, day and
    month swapped), or sharing a given name, a family name or its sound and born within a year."""
    a, b = record.date_of_birth, child.date_of_birth
    if DamerauLevenshtein.distance(dob_text(a), dob_text(b)) <= 1 or swapped_day_month(a) == b:
        return True
    given = {n.given for n in child.names}
    family = {k for n in child.names for k in (n.family, n.family_phonetic)}
    shares = any(
        n.given in given or n.family in family or n.family_phonetic in family for n in record.names
    )
    return shares and abs((a - b).days) <= 366


def test_the_shield_net_finds_every_shielded_child_it_should_and_no_other() -> None:
    rng = random.Random(5)
    children = [_someone(rng) for _ in range(300)]
    # Records born on a shielded child's day, a digit or a few months from it, or anywhere.
    records = [_someone(rng) for _ in range(300)]
    for child in children[:200]:
        near = child.date_of_birth + dt.timedelta(days=rng.choice([0, 9, 40, 200, 360, 370]))
        records.append(MatchRecord(names=_someone(rng).names, date_of_birth=near, gender="male"))
    # 366 days apart across three years (the one between them not a leap year).
    children.append(
        MatchRecord(
            names=(PersonName.of("Isla", "Khan"),),
            date_of_birth=dt.date(2010, 12, 31),
            gender="female",
        )
    )
    records.append(
        MatchRecord(
            names=(PersonName.of("Isla", "Shah"),),
            date_of_birth=dt.date(2012, 1, 1),
            gender="female",
        )
    )
    net = ShieldNet(refresh_seconds=float("inf"))
    for child_id, child in enumerate(children, start=1):
        net.add(child_id, child)

    found = 0
    for record in records:
        expected = {i for i, c in enumerate(children, start=1) if _resembles(record, c)}
        assert net.candidates(record) == expected, record
        found += len(expected)
    assert found > len(records)  # the net is tried on many resemblances, not on none
