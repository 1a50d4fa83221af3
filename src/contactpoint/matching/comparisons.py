"""The Fellegi-Sunter comparisons, declared once (CONVENTIONS 12: the match model is data).

Each comparison names its levels from strongest agreement to "else"; level 0 is always
"null" (one side has no value, so the comparison says nothing and weighs 0). The same levels
are written twice, and tests/matching/test_splink_parity.py holds them together:

- here, in Python, for the online scorer that sees each incoming record against its
  candidates (a candidate may have several names and addresses: the best level counts);
- in `training.py`, as Splink comparison levels (SQL), for EM training and batch matching.

Names are one comparison rather than two because given and family names are not independent
evidence: a twin agrees on everything but the given name, and a child reported with names
swapped agrees on both only crosswise. Giving those patterns levels of their own lets the
model learn how rare they are, instead of adding two weights that assume independence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from contactpoint.matching.features import (
    WITHIN_A_YEAR_DAYS,
    MatchRecord,
    PersonName,
    dob_text,
    familiar_forms,
    swapped_day_month,
)

NULL = "null"
ELSE = "else"


@dataclass(frozen=True)
class Comparison:
    """A named comparison: ordered level labels and the function that picks one for a pair."""

    name: str
    description: str
    levels: tuple[str, ...]  # levels[0] is NULL, levels[-1] is ELSE
    pick: Callable[[MatchRecord, MatchRecord], int]
    tf_level: str | None = None  # the level whose weight is adjusted for the value's frequency

    def level_index(self, label: str) -> int:
        return self.levels.index(label)


def jaro_winkler(a: str, b: str) -> float:
    return float(JaroWinkler.similarity(a, b))


# --- Names -------------------------------------------------------------------------------------

NAME_LEVELS = (
    NULL,
    "exact",  # given and family names both equal
    "swapped",  # given equals family and family equals given
    "family_exact_given_familiar",  # a nickname, or the first given name is another's middle
    "family_exact_given_similar",  # Jaro-Winkler >= 0.88 on the given name: a typing error
    "given_exact_family_similar",  # Jaro-Winkler >= 0.88 on the family name
    "both_similar",  # both >= 0.80, or both sound the same
    "given_agrees_family_differs",  # a change of surname (marriage, adoption, preference)
    "family_agrees_given_differs",  # siblings and twins look like this
    ELSE,
)
_NAME_RANK = {label: rank for rank, label in enumerate(NAME_LEVELS)}


def _given_familiar(a: PersonName, b: PersonName) -> bool:
    return (
        not a.nickname_roots.isdisjoint(b.nickname_roots)
        or a.given in b.given_words
        or b.given in a.given_words
    )


def one_edit(a: str, b: str) -> bool:
    """At most one typing error apart (a letter wrong, missing, extra, or two swapped)."""
    return DamerauLevenshtein.distance(a, b) <= 1


def _closeness(a: str, b: str, a_sound: str, b_sound: str) -> int:
    """2 if similar (Jaro-Winkler at least 0.88, or one typing error), 1 if close (at least
    0.80, or they sound the same), else 0."""
    similarity = jaro_winkler(a, b)
    if similarity >= 0.88 or one_edit(a, b):
        return 2
    return 1 if similarity >= 0.80 or a_sound == b_sound else 0


def name_level_of(a: PersonName, b: PersonName) -> str:
    """The name level for one pair of names.

    "Similar" means Jaro-Winkler at least 0.88, or one typing error apart: Jaro-Winkler is
    unforgiving of an error in the first letter or in a short name (Ilivia, Mqx, Aav), and a
    twin's different given name must not be the only explanation left for one.
    """
    if not a.given or not a.family or not b.given or not b.family:
        return NULL
    given_same = a.given == b.given
    family_same = a.family == b.family
    if given_same and family_same:
        return "exact"
    if one_edit(a.given, b.family) and one_edit(a.family, b.given):
        return "swapped"
    # Each similarity is worked out only when a level still depends on it: nearly every pair
    # scored is two strangers, and most of those differ in the given name already.
    if family_same:
        if _given_familiar(a, b):
            return "family_exact_given_familiar"
        return (
            "family_agrees_given_differs",
            "both_similar",
            "family_exact_given_similar",
        )[_closeness(a.given, b.given, a.given_phonetic, b.given_phonetic)]
    if given_same:
        return (
            "given_agrees_family_differs",
            "both_similar",
            "given_exact_family_similar",
        )[_closeness(a.family, b.family, a.family_phonetic, b.family_phonetic)]
    given_typo = one_edit(a.given, b.given)
    if (
        given_typo or a.given_phonetic == b.given_phonetic or jaro_winkler(a.given, b.given) >= 0.80
    ) and (
        a.family_phonetic == b.family_phonetic
        or one_edit(a.family, b.family)
        or jaro_winkler(a.family, b.family) >= 0.80
    ):
        return "both_similar"
    if given_typo or _given_familiar(a, b):
        return "given_agrees_family_differs"
    return ELSE


def _mistypes_a_form_of(a: PersonName, b: PersonName) -> bool:
    return any(
        len(form) >= 3 and one_edit(form, b.given) for form in familiar_forms(a.given) - {a.given}
    )


def mistyped_familiar(a: PersonName, b: PersonName) -> bool:
    """One given name is a typing error away from a familiar form of the other (Alc: Alf, a
    form of Alfred; Cnarlie: Charlie, of Charlotte): the same name, not a twin's other name.

    Both need three letters: one edit turns a two-letter name into too many others.
    """
    if len(a.given) < 3 or len(b.given) < 3:
        return False
    return _mistypes_a_form_of(a, b) or _mistypes_a_form_of(b, a)


def given_crosswise(a: PersonName, b: PersonName) -> bool:
    """One record's given name is in the other's family-name field (names swapped, and the
    surname changed too): Hartdale Noah for Noah Stapleby."""

    def close(x: str, y: str) -> bool:
        return bool(x) and (x == y or (len(x) >= 3 and len(y) >= 3 and one_edit(x, y)))

    return close(a.family, b.given) or close(a.given, b.family)


def names_mixed_up(a: MatchRecord, b: MatchRecord) -> bool:
    """Whether names that disagree at face value are one name as sources garble it: a mistyped
    familiar form, or the given name reported as the family name."""
    return any(
        mistyped_familiar(name_a, name_b) or given_crosswise(name_a, name_b)
        for name_a in a.names
        for name_b in b.names
    )


def _pick_name(a: MatchRecord, b: MatchRecord) -> int:
    best = len(NAME_LEVELS)
    for name_a in a.names:
        for name_b in b.names:
            rank = _NAME_RANK[name_level_of(name_a, name_b)]
            if rank == 1:
                return 1
            if rank != 0 and rank < best:
                best = rank
    return best if best < len(NAME_LEVELS) else 0


# --- Date of birth ---------------------------------------------------------------------------

DOB_LEVELS = (NULL, "exact", "day_month_swapped", "one_digit", "transposed", "same_year", ELSE)


def dob_level_of(a: MatchRecord, b: MatchRecord) -> str:
    if a.date_of_birth == b.date_of_birth:
        return "exact"
    if swapped_day_month(a.date_of_birth) == b.date_of_birth:
        return "day_month_swapped"
    text_a, text_b = dob_text(a.date_of_birth), dob_text(b.date_of_birth)
    if Levenshtein.distance(text_a, text_b) <= 1:
        return "one_digit"
    if DamerauLevenshtein.distance(text_a, text_b) <= 1:
        return "transposed"
    if abs((a.date_of_birth - b.date_of_birth).days) <= WITHIN_A_YEAR_DAYS:
        return "same_year"
    return ELSE


def _pick_dob(a: MatchRecord, b: MatchRecord) -> int:
    return DOB_LEVELS.index(dob_level_of(a, b))


# --- Gender ------------------------------------------------------------------------------------

GENDER_LEVELS = (NULL, "exact", ELSE)


def _pick_gender(a: MatchRecord, b: MatchRecord) -> int:
    if not a.gender or not b.gender:
        return 0
    return 1 if a.gender == b.gender else 2


# --- Address -----------------------------------------------------------------------------------

ADDRESS_LEVELS = (NULL, "postcode_and_line", "postcode", "sector", "district", ELSE)


def _pick_address(a: MatchRecord, b: MatchRecord) -> int:
    if not a.places or not b.places:
        return 0
    best = len(ADDRESS_LEVELS) - 1
    for pa in a.places:
        for pb in b.places:
            if pa.postcode == pb.postcode:
                if pa.line_key and pa.line_key == pb.line_key:
                    return 1
                best = min(best, 2)
            elif pa.sector == pb.sector:
                best = min(best, 3)
            elif pa.district == pb.district:
                best = min(best, 4)
    return best


# --- Carers ------------------------------------------------------------------------------------

CARER_LEVELS = (NULL, "carer_name", "carer_family_name", ELSE)


def _pick_carers(a: MatchRecord, b: MatchRecord) -> int:
    if not a.carers or not b.carers:
        return 0
    best = 3
    for given_a, family_a in a.carers:
        for given_b, family_b in b.carers:
            if family_a and family_a == family_b:
                if given_a and given_a == given_b:
                    return 1
                best = 2
    return best


# --- Identifiers held by one kind of source ----------------------------------------------------

CODE_LEVELS = (NULL, "exact", ELSE)


def _code_picker(attribute: str) -> Callable[[MatchRecord, MatchRecord], int]:
    def pick(a: MatchRecord, b: MatchRecord) -> int:
        left: frozenset[str] = getattr(a, attribute)
        right: frozenset[str] = getattr(b, attribute)
        if not left or not right:
            return 0
        return 1 if left & right else 2

    return pick


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "name",
        "Given and family names together: exact, swapped, nickname, typing errors, changes",
        NAME_LEVELS,
        _pick_name,
        tf_level="exact",
    ),
    Comparison(
        "date_of_birth",
        "Date of birth: exact, day and month swapped, one digit wrong, two digits transposed",
        DOB_LEVELS,
        _pick_dob,
    ),
    Comparison("gender", "Gender, when both sides know it", GENDER_LEVELS, _pick_gender),
    Comparison(
        "address",
        "Any address of the child: postcode and first line, postcode, sector, district",
        ADDRESS_LEVELS,
        _pick_address,
    ),
    Comparison("carers", "Parents' and carers' names", CARER_LEVELS, _pick_carers),
    Comparison("school", "School URN", CODE_LEVELS, _code_picker("school_urns")),
    Comparison("gp_practice", "GP practice ODS code", CODE_LEVELS, _code_picker("gp_codes")),
    Comparison(
        "nhs_number", "Scrambled NHS number (keyed hash)", CODE_LEVELS, _code_picker("nhs_hashes")
    ),
)

COMPARISONS_BY_NAME: dict[str, Comparison] = {c.name: c for c in COMPARISONS}


def comparison_vector(a: MatchRecord, b: MatchRecord) -> tuple[int, ...]:
    """The level index each comparison picks for this pair (0 = null)."""
    return tuple(c.pick(a, b) for c in COMPARISONS)
