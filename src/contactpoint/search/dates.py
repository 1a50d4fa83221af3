"""Dates of birth as people type them: partial, with day and month swapped, or one part wrong."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class DateAgreement(StrEnum):
    EXACT = "exact"
    DAY_MONTH_SWAPPED = "day_month_swapped"
    ONE_PART_WRONG = "one_part_wrong"  # the day, the month or the year (by one or ten) differs
    DIFFERENT = "different"


DATE_LEVELS: dict[DateAgreement, float] = {
    DateAgreement.EXACT: 1.0,
    DateAgreement.DAY_MONTH_SWAPPED: 0.92,
    DateAgreement.ONE_PART_WRONG: 0.8,
    DateAgreement.DIFFERENT: 0.0,
}

# Year typos people make: one out (2015 for 2016) or a slipped tens digit (2005 for 2015).
_YEAR_SLIPS = (-10, -1, 1, 10)


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date of birth as far as it is known: a year, a year and month, or a whole date."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.day is not None and self.month is None:
            raise ValueError("a day needs a month")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError("a month is 1 to 12")
        if self.day is not None:
            dt.date(self.year, self.month or 1, self.day)  # raises ValueError if not a real date

    @property
    def is_complete(self) -> bool:
        return self.day is not None

    def as_date(self) -> dt.date:
        if self.day is None or self.month is None:
            raise ValueError("not a whole date")
        return dt.date(self.year, self.month, self.day)

    def bounds(self) -> tuple[dt.date, dt.date]:
        """The first and last days this partial date covers."""
        if self.is_complete:
            day = self.as_date()
            return day, day
        if self.month is None:
            return dt.date(self.year, 1, 1), dt.date(self.year, 12, 31)
        last = calendar.monthrange(self.year, self.month)[1]
        return dt.date(self.year, self.month, 1), dt.date(self.year, self.month, last)

    def __str__(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def _real(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def swapped(day: dt.date) -> dt.date | None:
    """The date with day and month exchanged (3 April for 4 March), if that is a real date."""
    if day.day == day.month:
        return None
    return _real(day.year, day.day, day.month)


def exact_variants(day: dt.date) -> tuple[dt.date, ...]:
    """The typed date and its day/month swap: the dates searched in full."""
    other = swapped(day)
    return (day,) if other is None else (day, other)


@dataclass(frozen=True, slots=True)
class NearbyDates:
    """The dates differing from a typed date of birth in one part: its whole month (a wrong
    day) and the few dates with the month or the year wrong, or day and month swapped.

    Kept as a range plus a short list, not ~50 single dates, so each name index is searched
    with one range scan and a dozen or so lookups.
    """

    month: tuple[dt.date, dt.date]
    others: tuple[dt.date, ...]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and (
            self.month[0] <= day <= self.month[1] or day in self.others
        )


def nearby_dates(day: dt.date) -> NearbyDates:
    """Every real date one part away from this one (see NearbyDates)."""
    others: set[dt.date] = set(exact_variants(day))
    for other_month in range(1, 13):
        candidate = _real(day.year, other_month, day.day)
        if candidate is not None:
            others.add(candidate)
    for slip in _YEAR_SLIPS:
        candidate = _real(day.year + slip, day.month, day.day)
        if candidate is not None:
            others.add(candidate)
    first = day.replace(day=1)
    last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    return NearbyDates(
        month=(first, last), others=tuple(sorted(d for d in others if not first <= d <= last))
    )


def compare_dates(searched: dt.date, recorded: dt.date) -> DateAgreement:
    """How a typed whole date of birth agrees with the recorded one."""
    if searched == recorded:
        return DateAgreement.EXACT
    if swapped(searched) == recorded:
        return DateAgreement.DAY_MONTH_SWAPPED
    same = (
        (searched.year == recorded.year)
        + (searched.month == recorded.month)
        + (searched.day == recorded.day)
    )
    if same == 2 and (
        searched.year == recorded.year or recorded.year - searched.year in _YEAR_SLIPS
    ):
        return DateAgreement.ONE_PART_WRONG
    return DateAgreement.DIFFERENT


def birth_dates_for_ages(age_from: int, age_to: int, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """The dates of birth of children aged age_from to age_to (whole years) today."""
    latest = _years_before(today, age_from)
    earliest = _years_before(today, age_to + 1) + dt.timedelta(days=1)
    return earliest, latest


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)
