"""What a search may be made with, checked before anything is read (issue 4: criteria rules).

A search must be specific: a family name with a date of birth, or a family name and a given
name with one more detail. Anything less is refused with a message that says what to add.
Input is checked here once for the web form and the API alike: lengths, characters, real
dates, real postcodes. Nothing typed is echoed back except through the templates' escaping.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contactpoint.index import normalise
from contactpoint.index.models import NAME_LENGTH, LocalAuthority
from contactpoint.search.dates import PartialDate, birth_dates_for_ages

MAX_CHILD_AGE = 25  # care leavers may stay on ContactPoint until 25 (DESIGN: lifecycle)
MAX_AGE_SPAN = 2
MIN_NAME_LETTERS = 2
POSTCODE_MAX_LENGTH = 10
_NAME_PUNCTUATION = frozenset(" -'\u2019.")  # space, hyphen, apostrophes, full stop
_WILDCARDS = frozenset("*%?")
_ISO_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_ONS_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")


class Criterion(StrEnum):
    FAMILY_NAME = "family_name"
    GIVEN_NAME = "given_name"
    DATE_OF_BIRTH = "date_of_birth"  # a whole date
    BIRTH_YEAR = "birth_year"  # a year, or a month and year
    AGE_RANGE = "age_range"
    POSTCODE = "postcode"
    LOCAL_AUTHORITY = "local_authority"


# Fields that would disclose where a child is if a match on them were returned: a search using
# any of them never returns a shielded child (the ContactPoint and NHS S-flag rule). Address,
# school and GP belong here too if they ever become search fields.
HIDDEN_CRITERIA = frozenset({Criterion.POSTCODE, Criterion.LOCAL_AUTHORITY})

ANCHORS = frozenset(
    {Criterion.BIRTH_YEAR, Criterion.AGE_RANGE, Criterion.POSTCODE, Criterion.LOCAL_AUTHORITY}
)


@dataclass(frozen=True)
class AcceptedCriteria:
    description: str
    needs: frozenset[Criterion]


# The accepted criteria sets, declared once (issue 4, Deliver 1).
ACCEPTED_CRITERIA: tuple[AcceptedCriteria, ...] = (
    AcceptedCriteria(
        "family name and date of birth",
        frozenset({Criterion.FAMILY_NAME, Criterion.DATE_OF_BIRTH}),
    ),
    *(
        AcceptedCriteria(
            f"family name, given name and {anchor.replace('_', ' ')}",
            frozenset({Criterion.FAMILY_NAME, Criterion.GIVEN_NAME, anchor}),
        )
        for anchor in (
            Criterion.BIRTH_YEAR,
            Criterion.AGE_RANGE,
            Criterion.POSTCODE,
            Criterion.LOCAL_AUTHORITY,
        )
    ),
)


class InvalidCriteria(ValueError):
    """Input that is not well formed; `errors` maps each field to what to do about it."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


class CriteriaRefused(ValueError):
    """Well-formed criteria that are not specific enough; the message says what to add."""


@dataclass(frozen=True)
class SearchCriteria:
    """A checked search: names cleaned, dates real, postcode canonical, LA known."""

    family_name: str
    given_name: str = ""
    birth: PartialDate | None = None
    age_from: int | None = None
    age_to: int | None = None
    postcode: str = ""  # a full postcode, canonical ('M14 5AB'), or ''
    postcode_district: str = ""  # the district of the postcode, or a district typed alone
    local_authority_id: int | None = None
    local_authority_code: str = ""
    today: dt.date = field(default_factory=dt.date.today, compare=False)

    @property
    def family_key(self) -> str:
        return normalise.name_key(self.family_name)

    @property
    def given_key(self) -> str:
        return normalise.first_given_name_key(self.given_name)

    @property
    def date_of_birth(self) -> dt.date | None:
        """The whole date of birth, when one was given."""
        return self.birth.as_date() if self.birth is not None and self.birth.is_complete else None

    @property
    def birth_range(self) -> tuple[dt.date, dt.date] | None:
        """The dates of birth a partial date or an age range allows; None for neither."""
        if self.birth is not None and not self.birth.is_complete:
            return self.birth.bounds()
        if self.age_from is not None and self.age_to is not None:
            return birth_dates_for_ages(self.age_from, self.age_to, today=self.today)
        return None

    @property
    def provided(self) -> frozenset[Criterion]:
        given: set[Criterion] = set()
        if self.family_key:
            given.add(Criterion.FAMILY_NAME)
        if self.given_key:
            given.add(Criterion.GIVEN_NAME)
        if self.birth is not None:
            # A whole date says more than a year: it satisfies either rule.
            given.add(Criterion.BIRTH_YEAR)
            if self.birth.is_complete:
                given.add(Criterion.DATE_OF_BIRTH)
        if self.age_from is not None:
            given.add(Criterion.AGE_RANGE)
        if self.postcode or self.postcode_district:
            given.add(Criterion.POSTCODE)
        if self.local_authority_id is not None:
            given.add(Criterion.LOCAL_AUTHORITY)
        return frozenset(given)

    @property
    def uses_hidden_field(self) -> bool:
        return bool(self.provided & HIDDEN_CRITERIA)

    def for_audit(self) -> dict[str, Any]:
        """The criteria as recorded on the audit event (only what was given)."""
        recorded: dict[str, Any] = {"family_name": self.family_name}
        if self.given_name:
            recorded["given_name"] = self.given_name
        if self.birth is not None:
            recorded["date_of_birth"] = str(self.birth)
        if self.age_from is not None:
            recorded["age_range"] = [self.age_from, self.age_to]
        if self.postcode or self.postcode_district:
            recorded["postcode"] = self.postcode or self.postcode_district
        if self.local_authority_code:
            recorded["local_authority"] = self.local_authority_code
        return recorded


def what_to_add(provided: frozenset[Criterion]) -> str | None:
    """None when the criteria meet an accepted set; otherwise what to add, in plain words."""
    if any(accepted.needs <= provided for accepted in ACCEPTED_CRITERIA):
        return None
    needed = []
    if Criterion.FAMILY_NAME not in provided:
        needed.append("the child's family name")
    has_given = Criterion.GIVEN_NAME in provided
    has_anchor = bool(provided & ANCHORS)
    if Criterion.DATE_OF_BIRTH not in provided and not (has_given and has_anchor):
        if has_given:
            needed.append(
                "one of: their date of birth, year of birth, an age range, a postcode or a "
                "local authority"
            )
        elif has_anchor:
            needed.append("their given name, or their full date of birth")
        else:
            needed.append(
                "their date of birth, or their given name and one of: year of birth, an age "
                "range, a postcode or a local authority"
            )
    return "Your search is not specific enough. Add " + " and ".join(needed) + "."


def check_specific(criteria: SearchCriteria) -> None:
    """Raise CriteriaRefused, saying what to add, unless the criteria are specific enough."""
    message = what_to_add(criteria.provided)
    if message is not None:
        raise CriteriaRefused(message)


# --- Parsing typed input -------------------------------------------------------------------------


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char).startswith("C") for char in text)


def clean_name(raw: str, *, label: str) -> str:
    """A typed name, trimmed; raises ValueError with what to do if it cannot be a name."""
    text = normalise.clean_display_name(raw)
    if len(text) > NAME_LENGTH:
        raise ValueError(f"{label} must be {NAME_LENGTH} characters or fewer")
    if _has_control_characters(text):
        raise ValueError(f"{label} must not include control characters")
    if any(char in _WILDCARDS for char in text):
        raise ValueError(
            f"{label} must not include wildcards such as * or %: type the name as you know it"
        )
    if not all(char.isalpha() or char in _NAME_PUNCTUATION for char in text):
        raise ValueError(f"{label} must only include letters, spaces, hyphens and apostrophes")
    if text and len(normalise.name_key(text)) < MIN_NAME_LETTERS:
        raise ValueError(f"{label} must have at least {MIN_NAME_LETTERS} letters")
    return text


def parse_birth_date(text: str, *, today: dt.date) -> PartialDate | None:
    """'2015-03-04', '2015-03' or '2015' (the API's form); '' for none."""
    text = (text or "").strip()
    if not text:
        return None
    match = _ISO_PARTIAL_DATE.match(text) if len(text) <= 10 else None
    if not match:
        raise ValueError(
            "Date of birth must be a year, a year and month, or a whole date, such as "
            "2015, 2015-03 or 2015-03-27"
        )
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None
    return check_birth_date(year=year, month=month, day=day, today=today)


def birth_date_from_boxes(day: str, month: str, year: str, *, today: dt.date) -> PartialDate | None:
    """The GOV.UK date boxes: year alone, month and year, or all three; all empty for none."""
    day, month, year = (part.strip() for part in (day or "", month or "", year or ""))
    if not (day or month or year):
        return None
    if not all(part.isascii() and part.isdigit() for part in (day, month, year) if part):
        raise ValueError("Date of birth must be numbers, for example 27 3 2015")
    if not year or len(year) != 4:
        raise ValueError("Date of birth must include a 4-digit year")
    if day and not month:
        raise ValueError("Date of birth must include a month when it includes a day")
    return check_birth_date(
        year=int(year),
        month=int(month) if month else None,
        day=int(day) if day else None,
        today=today,
    )


def check_birth_date(
    *, year: int, month: int | None, day: int | None, today: dt.date
) -> PartialDate:
    """A real date (or year, or month) of birth within the ages ContactPoint holds."""
    try:
        birth = PartialDate(year=year, month=month, day=day)
    except ValueError as error:
        raise ValueError("Date of birth must be a real date") from error
    earliest, latest = birth.bounds()
    if earliest > today:
        raise ValueError("Date of birth must be in the past")
    if latest.year < today.year - MAX_CHILD_AGE - 1:
        raise ValueError(f"Date of birth must be within the last {MAX_CHILD_AGE} years")
    return birth


def check_age_range(age_from: int | None, age_to: int | None) -> tuple[int | None, int | None]:
    """Both ages or neither, youngest first, at most MAX_AGE_SPAN years apart."""
    if age_from is None and age_to is None:
        return None, None
    if age_from is None or age_to is None:
        raise ValueError("Enter both ages of the age range, such as 7 to 9")
    if not (0 <= age_from <= MAX_CHILD_AGE and 0 <= age_to <= MAX_CHILD_AGE):
        raise ValueError(f"Ages must be between 0 and {MAX_CHILD_AGE}")
    if age_to < age_from:
        raise ValueError("The age range must start with the younger age, such as 7 to 9")
    if age_to - age_from > MAX_AGE_SPAN:
        raise ValueError(f"An age range can cover at most {MAX_AGE_SPAN} years, such as 7 to 9")
    return age_from, age_to


def parse_age(text: str | int | None, *, label: str) -> int | None:
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 2):
        raise ValueError(f"{label} must be a whole number of years, such as 7")
    return int(text)


def clean_postcode(raw: str) -> tuple[str, str]:
    """(full postcode, district): 'm145ab' -> ('M14 5AB', 'M14'); 'M14' -> ('', 'M14')."""
    text = (raw or "").strip()
    if not text:
        return "", ""
    if len(text) > POSTCODE_MAX_LENGTH or _has_control_characters(text):
        raise ValueError("Enter a real postcode, such as M14 5AB, or a district, such as M14")
    try:
        postcode = normalise.parse_postcode(text)
    except normalise.InvalidPostcode:
        if normalise.is_postcode_district(text):
            return "", text.upper()
        raise ValueError(
            "Enter a real postcode, such as M14 5AB, or a district, such as M14"
        ) from None
    return str(postcode), postcode.district


def find_local_authority(raw: str) -> tuple[int | None, str]:
    """(id, ONS code) of a local authority given by its ONS code, such as E08000003."""
    code = (raw or "").strip().upper()
    if not code:
        return None, ""
    if not _ONS_CODE.match(code):
        raise ValueError("Choose a local authority from the list")
    authority_id = LocalAuthority.objects.filter(ons_code=code).values_list("id", flat=True).first()
    if authority_id is None:
        raise ValueError("Choose a local authority from the list")
    return authority_id, code


def build_criteria(
    *,
    family_name: str = "",
    given_name: str = "",
    birth: PartialDate | None = None,
    age_from: int | None = None,
    age_to: int | None = None,
    postcode: str = "",
    local_authority: str = "",
    today: dt.date,
) -> SearchCriteria:
    """Check and normalise typed criteria; raise InvalidCriteria naming each bad field.

    Well-formed but unspecific criteria pass here: check_specific() refuses them, inside the
    audited search, so that attempts at broad searches are recorded too.
    """
    errors: dict[str, list[str]] = {}

    def attempt(name: str, check: Any) -> Any:
        try:
            return check()
        except ValueError as error:
            errors.setdefault(name, []).append(str(error))
            return None

    family = attempt("family_name", lambda: clean_name(family_name, label="Family name")) or ""
    given = attempt("given_name", lambda: clean_name(given_name, label="Given name")) or ""
    ages = attempt("age_range", lambda: check_age_range(age_from, age_to)) or (None, None)
    if birth is not None and ages[0] is not None:
        errors.setdefault("age_range", []).append("Give a date of birth or an age range, not both")
    full_postcode, district = attempt("postcode", lambda: clean_postcode(postcode)) or ("", "")
    authority_id, authority_code = attempt(
        "local_authority", lambda: find_local_authority(local_authority)
    ) or (None, "")
    if errors:
        raise InvalidCriteria(errors)
    return SearchCriteria(
        family_name=family,
        given_name=given,
        birth=birth,
        age_from=ages[0],
        age_to=ages[1],
        postcode=full_postcode,
        postcode_district=district,
        local_authority_id=authority_id,
        local_authority_code=authority_code,
        today=today,
    )
