"""The frequency tables behind Synthetic England, loaded once and ready for random.choices.

The CSV and text files in `data/` are compiled by hand (see data/README.md). This module only
reads them and turns weights into cumulative weights, so that the generator's hot loop draws a
name with one bisect and never touches Faker or the file system.
"""

from __future__ import annotations

import bisect
import csv
import functools
import itertools
from dataclasses import dataclass
from pathlib import Path

from faker.providers.person.en_GB import Provider as EnGbPerson

DATA_DIR = Path(__file__).resolve().parent / "data"

# given_names.csv has one weight column per reference birth year.
REFERENCE_YEARS: tuple[int, ...] = (2008, 2013, 2018, 2023)

# The ~570 surnames in surnames.csv are the common ones; in England the few hundred commonest
# surnames are borne by roughly 30-40% of people (Faker's en_GB weights for its top 500 sum to
# 39.5%). Drawing only from the table would make one child in 23 a Smith, and search blocks
# unrealistically large, so the table supplies this share and a long tail supplies the rest.
COMMON_SURNAME_SHARE = 0.30

# Toponymic parts for the long tail of surnames (Ashworth, Bradley, Thornhill...): England's rare
# surnames are overwhelmingly place names, so stem + suffix gives plausible, varied names.
_TAIL_STEMS: tuple[str, ...] = (
    "Ash", "Aysh", "Bar", "Black", "Brad", "Bram", "Brook", "Broom", "Burn", "Cal", "Carr",
    "Chad", "Clay", "Cold", "Crab", "Crom", "Dal", "Dun", "East", "Elm", "Fair", "Farn",
    "Fen", "Green", "Ham", "Hart", "Hay", "Hazel", "Heath", "Hol", "Horn", "Kel", "Kings",
    "Lang", "Lind", "Long", "Marsh", "Mid", "Mill", "Moor", "Nor", "Oak", "Pen", "Ray",
    "Red", "Ros", "Rush", "Sand", "Shel", "Stan", "Staple", "Stock", "Sut", "Thorn", "Tod",
    "Wal", "Wad", "Wes", "Whit", "Wind", "Wood", "Wor", "Yar",
)  # fmt: skip
_TAIL_SUFFIXES: tuple[str, ...] = (
    "ford", "ley", "ton", "worth", "field", "ham", "wood", "by", "shaw", "well", "combe",
    "hurst", "dale", "more", "stone", "bury", "croft", "land", "wick", "hill",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class WeightedNames:
    """Names with cumulative weights: draw with rng.choices(names, cum_weights=cum_weights)."""

    names: tuple[str, ...]
    cum_weights: tuple[float, ...]

    @classmethod
    def from_weights(cls, weighted: list[tuple[str, float]]) -> WeightedNames:
        kept = [(name, weight) for name, weight in weighted if weight > 0]
        return cls(
            names=tuple(name for name, _ in kept),
            cum_weights=tuple(itertools.accumulate(weight for _, weight in kept)),
        )

    @property
    def total(self) -> float:
        return self.cum_weights[-1]

    def probability(self, name: str) -> float:
        """The chance that one draw gives this name (0 when it is not in the table)."""
        try:
            index = self.names.index(name)
        except ValueError:
            return 0.0
        previous = self.cum_weights[index - 1] if index else 0.0
        return (self.cum_weights[index] - previous) / self.total

    def pick(self, unit: float) -> str:
        """The name at a uniform draw `unit` in [0, 1): one bisect, no list allocated."""
        return self.names[bisect.bisect_right(self.cum_weights, unit * self.total)]


@dataclass(frozen=True, slots=True)
class GivenNameRow:
    name: str
    sex: str  # "F" or "M"
    weights: tuple[int, ...]  # one per REFERENCE_YEARS


@functools.cache
def given_name_rows() -> tuple[GivenNameRow, ...]:
    """Every row of given_names.csv."""
    with (DATA_DIR / "given_names.csv").open(newline="", encoding="utf-8") as handle:
        return tuple(
            GivenNameRow(
                name=row["name"].strip(),
                sex=row["sex"].strip().upper(),
                weights=tuple(int(row[f"weight_{year}"]) for year in REFERENCE_YEARS),
            )
            for row in csv.DictReader(handle)
        )


def _interpolated(weights: tuple[int, ...], year: int) -> float:
    """Linear interpolation between reference years, held flat beyond the first and last."""
    if year <= REFERENCE_YEARS[0]:
        return float(weights[0])
    if year >= REFERENCE_YEARS[-1]:
        return float(weights[-1])
    upper = bisect.bisect_right(REFERENCE_YEARS, year)
    y0, y1 = REFERENCE_YEARS[upper - 1], REFERENCE_YEARS[upper]
    w0, w1 = weights[upper - 1], weights[upper]
    return w0 + (w1 - w0) * (year - y0) / (y1 - y0)


@functools.cache
def given_names_for(sex: str, birth_year: int) -> WeightedNames:
    """Given names for babies of one sex ("F" or "M") born in one year, weighted for that year."""
    return WeightedNames.from_weights(
        [
            (row.name, _interpolated(row.weights, birth_year))
            for row in given_name_rows()
            if row.sex == sex
        ]
    )


@functools.cache
def common_surnames() -> WeightedNames:
    """surnames.csv: the common surnames, weighted by bearers."""
    with (DATA_DIR / "surnames.csv").open(newline="", encoding="utf-8") as handle:
        return WeightedNames.from_weights(
            [(row["name"].strip(), float(row["weight"])) for row in csv.DictReader(handle)]
        )


@functools.cache
def rare_surnames() -> tuple[str, ...]:
    """The long tail: Faker's en_GB surnames missing from the table, and toponymic compounds."""
    common = set(common_surnames().names)
    tail = {name for name in EnGbPerson.last_names if name not in common}
    tail.update(
        stem + suffix
        for stem in _TAIL_STEMS
        for suffix in _TAIL_SUFFIXES
        if stem[-1] != suffix[0] and stem + suffix not in common
    )
    return tuple(sorted(tail))


def surname_probability(name: str) -> float:
    """The chance that one surname draw (see SurnameSampler) gives this name."""
    tail = rare_surnames()
    share = COMMON_SURNAME_SHARE * common_surnames().probability(name)
    if name in tail:
        share += (1 - COMMON_SURNAME_SHARE) / len(tail)
    return share


@functools.cache
def nicknames() -> dict[str, tuple[str, ...]]:
    """Formal given name -> the familiar forms it is often shortened to."""
    pairs: dict[str, list[str]] = {}
    with (DATA_DIR / "nicknames.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            pairs.setdefault(row["formal"].strip(), []).append(row["nickname"].strip())
    return {formal: tuple(forms) for formal, forms in pairs.items()}


def _lines(filename: str) -> tuple[str, ...]:
    text = (DATA_DIR / filename).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@functools.cache
def street_stems() -> tuple[str, ...]:
    """First parts of street names: Church, Station, Victoria..."""
    return _lines("street_stems.txt")


@functools.cache
def street_suffixes() -> tuple[str, ...]:
    """Last parts of street names: Road, Street, Lane..."""
    return _lines("street_suffixes.txt")


@functools.cache
def adult_given_names(sex: str) -> tuple[str, ...]:
    """Given names for parents, carers and practitioners (Faker's en_GB lists: adults' names)."""
    names = EnGbPerson.first_names_female if sex == "F" else EnGbPerson.first_names_male
    return tuple(names)
