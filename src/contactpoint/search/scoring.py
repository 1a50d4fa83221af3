"""Scoring candidates against the criteria: explainable agreement levels, weighted, banded.

A candidate's score is the weighted mean of how well each searched field agrees (names from
search.names, the date from search.dates, the postcode here). Each level is declared as data
so a match can be explained field by field. Hard conditions (a year, an age range, a local
authority, a district) are filters, not weights: a child outside them is not a match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from contactpoint.index.vocabularies import AddressKind, NameKind
from contactpoint.search.criteria import SearchCriteria
from contactpoint.search.dates import DATE_LEVELS, DateAgreement, compare_dates
from contactpoint.search.names import (
    Comparison,
    NameAgreement,
    compare_family_names,
    compare_given_names,
)
from contactpoint.search.retrieval import NameRow, orientations


class Band(StrEnum):
    STRONG = "strong"
    POSSIBLE = "possible"


class PostcodeAgreement(StrEnum):
    SAME_ADDRESS_POSTCODE = "same_postcode"
    PREVIOUS_ADDRESS_POSTCODE = "previous_postcode"
    SAME_SECTOR = "same_sector"
    SAME_DISTRICT = "same_district"
    DIFFERENT = "different"


POSTCODE_LEVELS: dict[PostcodeAgreement, float] = {
    PostcodeAgreement.SAME_ADDRESS_POSTCODE: 1.0,
    PostcodeAgreement.PREVIOUS_ADDRESS_POSTCODE: 0.95,
    PostcodeAgreement.SAME_SECTOR: 0.8,
    PostcodeAgreement.SAME_DISTRICT: 0.7,
    PostcodeAgreement.DIFFERENT: 0.4,
}

# Field weights in the final score (a name carries most; a postcode least, children move).
NAME_WEIGHT = 0.6
DATE_WEIGHT = 0.4
POSTCODE_WEIGHT = 0.25
FAMILY_SHARE = 0.55  # of the name's weight, when a given name was searched too
# Below these a name does not count as agreeing at all.
NAME_FLOOR = 0.75
# Swapped names and former names are real matches, ranked just below the same match as typed.
SWAPPED_FACTOR = 0.97
OTHER_NAME_FACTOR = 0.98

STRONG_SCORE = 0.95
POSSIBLE_SCORE = 0.85
# With nothing but the names to go on (a year, an age range, a district or an LA), a match
# must rest on closer names: a weaker name agreement is too common to mean anything.
NAME_ONLY_POSSIBLE_SCORE = 0.9
# A strong match needs every searched field at least this close (a typo or a swap at most).
STRONG_FIELD_FLOOR = 0.88


@dataclass(frozen=True, slots=True)
class NameMatch:
    weight: float
    family: NameAgreement
    given: NameAgreement | None
    swapped: bool
    name_kind: str


@dataclass(frozen=True, slots=True)
class CandidateAddress:
    kind: str
    postcode: str
    district: str
    sector: str


@dataclass(frozen=True, slots=True)
class Scored:
    child_id: int
    score: float
    band: Band
    explanation: dict[str, str]


def score_name(criteria: SearchCriteria, row: NameRow) -> NameMatch | None:
    """The best agreement of one recorded name with the searched names, as typed or swapped."""
    best: NameMatch | None = None
    for way in orientations(criteria):
        family: Comparison = compare_family_names(way.family, row.family_name)
        if family.weight < NAME_FLOOR:
            continue
        given: Comparison | None = None
        weight = family.weight
        if way.given:
            given = compare_given_names(way.given, row.given_names)
            if given.weight < NAME_FLOOR:
                continue
            weight = FAMILY_SHARE * family.weight + (1 - FAMILY_SHARE) * given.weight
        if way.swapped:
            weight *= SWAPPED_FACTOR
        if row.kind != NameKind.CURRENT:
            weight *= OTHER_NAME_FACTOR
        if best is None or weight > best.weight:
            best = NameMatch(
                weight=weight,
                family=family.agreement,
                given=given.agreement if given else None,
                swapped=way.swapped,
                name_kind=row.kind,
            )
    return best


def best_names(criteria: SearchCriteria, rows: Iterable[NameRow]) -> dict[int, NameMatch]:
    """Each candidate child's best-agreeing name (current, former or alias)."""
    best: dict[int, NameMatch] = {}
    for row in rows:
        match = score_name(criteria, row)
        if match is not None:
            current = best.get(row.child_id)
            if current is None or match.weight > current.weight:
                best[row.child_id] = match
    return best


def compare_postcodes(postcode: str, addresses: Iterable[CandidateAddress]) -> PostcodeAgreement:
    """The closest any of the child's addresses (current or previous) comes to the postcode."""
    district, sector = postcode.split(" ")[0], postcode[:-2]
    best = PostcodeAgreement.DIFFERENT
    for address in addresses:
        if address.postcode == postcode:
            if address.kind == AddressKind.PREVIOUS:
                level = PostcodeAgreement.PREVIOUS_ADDRESS_POSTCODE
            else:
                return PostcodeAgreement.SAME_ADDRESS_POSTCODE
        elif address.sector == sector:
            level = PostcodeAgreement.SAME_SECTOR
        elif address.district == district:
            level = PostcodeAgreement.SAME_DISTRICT
        else:
            continue
        if POSTCODE_LEVELS[level] > POSTCODE_LEVELS[best]:
            best = level
    return best


def score_candidate(
    criteria: SearchCriteria,
    *,
    child_id: int,
    name: NameMatch,
    date_of_birth: dt.date,
    responsible_la_id: int,
    addresses: list[CandidateAddress],
) -> Scored | None:
    """The candidate's score and band, or None when it is not a match for these criteria."""
    birth_range = criteria.birth_range
    if birth_range is not None and not birth_range[0] <= date_of_birth <= birth_range[1]:
        return None
    if criteria.local_authority_id is not None and responsible_la_id != criteria.local_authority_id:
        return None
    if (
        criteria.postcode_district
        and not criteria.postcode
        and not any(a.district == criteria.postcode_district for a in addresses)
    ):
        return None

    explanation = {"family_name": str(name.family)}
    if name.given is not None:
        explanation["given_name"] = str(name.given)
    if name.swapped:
        explanation["names"] = "swapped"
    if name.name_kind != NameKind.CURRENT:
        explanation["matched_name"] = name.name_kind
    parts: list[tuple[float, float]] = [(name.weight, NAME_WEIGHT)]

    searched_date = criteria.date_of_birth
    if searched_date is not None:
        agreement = compare_dates(searched_date, date_of_birth)
        if agreement is DateAgreement.DIFFERENT:
            return None
        # Without a given name, a wrong date leaves only a family name: far too weak.
        if agreement is DateAgreement.ONE_PART_WRONG and name.given is None:
            return None
        explanation["date_of_birth"] = str(agreement)
        parts.append((DATE_LEVELS[agreement], DATE_WEIGHT))

    if criteria.postcode:
        postcode = compare_postcodes(criteria.postcode, addresses)
        # Searched by postcode with no date of birth: the postcode is the anchor and must
        # at least share the district.
        if (
            searched_date is None
            and POSTCODE_LEVELS[postcode] < POSTCODE_LEVELS[PostcodeAgreement.SAME_DISTRICT]
        ):
            return None
        explanation["postcode"] = str(postcode)
        parts.append((POSTCODE_LEVELS[postcode], POSTCODE_WEIGHT))

    score = sum(value * weight for value, weight in parts) / sum(w for _, w in parts)
    threshold = POSSIBLE_SCORE if len(parts) > 1 else NAME_ONLY_POSSIBLE_SCORE
    if score < threshold:
        return None
    field_floor = min(value for value, _ in parts)
    band = (
        Band.STRONG
        if score >= STRONG_SCORE and field_floor >= STRONG_FIELD_FLOOR
        else Band.POSSIBLE
    )
    return Scored(child_id=child_id, score=round(score, 4), band=band, explanation=explanation)
