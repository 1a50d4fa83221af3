"""Comparing a searched name with a recorded one, in the ways children's names go wrong.

Every comparison returns an agreement level from NAME_LEVELS, so that a match can always be
explained ("family name: phonetic; given name: nickname"). Keys come from index.normalise,
the same functions that wrote the stored keys, so O'Neill, ONEILL and o'neill agree exactly.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources

import jellyfish
from rapidfuzz.distance import OSA, JaroWinkler

from contactpoint.index import normalise


class NameAgreement(StrEnum):
    EXACT = "exact"
    NICKNAME = "nickname"
    PART = "part"  # one part of a hyphenated or double-barrelled name
    PHONETIC = "phonetic"
    OTHER_GIVEN_NAME = "other_given_name"  # the searched first name is a recorded middle name
    SHORT_FORM = "short_form"  # Sam for Samuel, Eli for Elijah: the start of the name
    ONE_EDIT = "one_edit"
    ONE_EDIT_SHORT = "one_edit_short"  # a short name one keystroke out (Mia/Mai, Zoe/Zo)
    TWO_EDITS = "two_edits"
    SIMILAR = "similar"
    DIFFERENT = "different"


# The weight each agreement level carries, 0..1 (data, not if statements: CONVENTIONS 12).
NAME_LEVELS: dict[NameAgreement, float] = {
    NameAgreement.EXACT: 1.0,
    NameAgreement.NICKNAME: 0.95,
    NameAgreement.PART: 0.93,
    NameAgreement.PHONETIC: 0.9,
    NameAgreement.OTHER_GIVEN_NAME: 0.88,
    NameAgreement.SHORT_FORM: 0.88,
    NameAgreement.ONE_EDIT: 0.88,
    NameAgreement.ONE_EDIT_SHORT: 0.8,
    NameAgreement.TWO_EDITS: 0.8,
    NameAgreement.SIMILAR: 0.78,
    NameAgreement.DIFFERENT: 0.0,
}

# Particles of surnames that say nothing on their own (Van der Berg, St John, O'Brien's O).
PARTICLES = frozenset(
    {
        "VAN",
        "DER",
        "DEN",
        "DE",
        "DU",
        "DI",
        "DA",
        "DEL",
        "LA",
        "LE",
        "VON",
        "ST",
        "MC",
        "MAC",
        "O",
        "D",
        "EL",
        "AL",
        "BIN",
        "BEN",
    }
)
MIN_PART_LENGTH = 3
MIN_SHORT_FORM = 3
_SIMILAR_JARO_WINKLER = 0.9


@dataclass(frozen=True, slots=True)
class Comparison:
    agreement: NameAgreement
    weight: float


def _level(agreement: NameAgreement) -> Comparison:
    return Comparison(agreement, NAME_LEVELS[agreement])


@cache
def nickname_groups() -> dict[str, frozenset[str]]:
    """Name key -> every key treated as the same given name (see data/README.md)."""
    nicknames: dict[str, set[str]] = defaultdict(set)
    formals: dict[str, set[str]] = defaultdict(set)
    source = resources.files("contactpoint.search.data").joinpath("nicknames.csv")
    with source.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            formal, nickname = (
                normalise.name_key(row["formal"]),
                normalise.name_key(row["nickname"]),
            )
            if formal and nickname:
                nicknames[formal].add(nickname)
                formals[nickname].add(formal)
    groups: dict[str, frozenset[str]] = {}
    for key in set(nicknames) | set(formals):
        group = {key} | nicknames[key] | formals[key]
        for formal in formals[key]:
            group |= nicknames[formal]
        groups[key] = frozenset(group)
    return groups


def given_name_variants(key: str) -> frozenset[str]:
    """The key and every nickname-equivalent key (ROBERT -> BOB, ROB, ROBBIE...)."""
    return nickname_groups().get(key, frozenset()) | {key}


def surname_parts(raw_or_key: str) -> frozenset[str]:
    """The meaningful parts of a family name: 'Smith-Jones' -> {SMITH, JONES}."""
    return frozenset(
        part
        for part in normalise.name_parts(raw_or_key)
        if len(part) >= MIN_PART_LENGTH and part not in PARTICLES
    )


@lru_cache(maxsize=65_536)
def phonetic_codes(key: str) -> tuple[str, str]:
    """Two phonetic codes of a key: Metaphone (as stored in the index) and NYSIIS.

    Metaphone alone misses some common pairs (Thompson/Thomson), NYSIIS others; either agreeing
    counts as phonetic agreement.
    """
    if not key:
        return ("", "")
    return (jellyfish.metaphone(key)[:16], jellyfish.nysiis(key))


@lru_cache(maxsize=262_144)
def compare_keys(searched: str, recorded: str) -> Comparison:
    """How two single name keys agree (no nicknames or parts: see the callers)."""
    if not searched or not recorded:
        return _level(NameAgreement.DIFFERENT)
    if searched == recorded:
        return _level(NameAgreement.EXACT)
    searched_codes, recorded_codes = phonetic_codes(searched), phonetic_codes(recorded)
    shortest = min(len(searched), len(recorded))
    if shortest >= 3 and (
        searched_codes[0] == recorded_codes[0] or searched_codes[1] == recorded_codes[1]
    ):
        return _level(NameAgreement.PHONETIC)
    edits = OSA.distance(searched, recorded)  # a transposition counts as one edit
    if edits == 1 and shortest >= 4:
        return _level(NameAgreement.ONE_EDIT)
    if edits == 1 and shortest >= 2 and max(len(searched), len(recorded)) >= 3:
        return _level(NameAgreement.ONE_EDIT_SHORT)
    if edits == 2 and shortest >= 7:
        return _level(NameAgreement.TWO_EDITS)
    if (
        shortest >= 4
        and JaroWinkler.normalized_similarity(searched, recorded) >= _SIMILAR_JARO_WINKLER
    ):
        return _level(NameAgreement.SIMILAR)
    return _level(NameAgreement.DIFFERENT)


def _best(*comparisons: Comparison) -> Comparison:
    return max(comparisons, key=lambda c: c.weight)


@lru_cache(maxsize=262_144)
def compare_family_names(searched: str, recorded: str) -> Comparison:
    """Family names, as raw text or keys: whole keys, then the parts of double-barrelled names."""
    searched_key, recorded_key = normalise.name_key(searched), normalise.name_key(recorded)
    whole = compare_keys(searched_key, recorded_key)
    if whole.agreement is NameAgreement.EXACT:
        return whole
    searched_parts, recorded_parts = surname_parts(searched), surname_parts(recorded)
    if len(searched_parts) > 1 or len(recorded_parts) > 1:
        if searched_parts == recorded_parts:  # Smith-Jones and Jones Smith
            return _best(whole, _level(NameAgreement.NICKNAME))
        if (
            searched_parts & recorded_parts
            or searched_key in recorded_parts
            or (recorded_key in searched_parts)
        ):
            return _best(whole, _level(NameAgreement.PART))
    return whole


@lru_cache(maxsize=262_144)
def compare_given_names(searched: str, recorded: str) -> Comparison:
    """Given names: the first against the first (with nicknames), then the other names.

    'Mary Jane' and 'Mary-Jane' agree exactly; 'Mary' agrees with 'Mary-Jane' as a part; a
    searched 'Rose' agrees with a recorded 'Amelia Rose' as another given name.
    """
    searched_words = [w for w in (normalise.name_key(p) for p in searched.split()) if w]
    recorded_words = [w for w in (normalise.name_key(p) for p in recorded.split()) if w]
    if not searched_words or not recorded_words:
        return _level(NameAgreement.DIFFERENT)
    first, recorded_first = searched_words[0], recorded_words[0]
    best = compare_keys(first, recorded_first)
    if best.agreement is NameAgreement.EXACT:
        return best
    if "".join(searched_words) == "".join(recorded_words):
        return _level(NameAgreement.EXACT)
    variants = given_name_variants(first)
    if recorded_first in variants:
        best = _best(best, _level(NameAgreement.NICKNAME))
    shorter, longer = sorted((first, recorded_first), key=len)
    if (
        len(shorter) >= MIN_SHORT_FORM
        and len(longer) > len(shorter) + 1
        and longer.startswith(shorter)
    ):
        best = _best(best, _level(NameAgreement.SHORT_FORM))
    first_parts = normalise.name_parts(recorded.split()[0])
    if len(first_parts) > 1 and first in first_parts:
        best = _best(best, _level(NameAgreement.PART))
    if any(other in variants for other in recorded_words[1:]):
        best = _best(best, _level(NameAgreement.OTHER_GIVEN_NAME))
    return best
