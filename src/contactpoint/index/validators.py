"""Field validators for the record: each refusal names what is wrong in words a person reads."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone

from contactpoint.index import contactpoint_id
from contactpoint.index.normalise import InvalidPostcode, parse_postcode

# Names: letters of any alphabet, spaces, hyphens, apostrophes and full stops. No digits or
# other punctuation, so a name field cannot be used to carry notes about a child.
_PERSON_NAME = re.compile(r"^[^\W\d_]+(?:[ '\u2019.\-][^\W\d_]*)*$")
# Organisation names and job titles allow digits, ampersands, brackets and commas too.
_TITLE = re.compile(r"^[\w][\w '\u2019.,&()/\-]*$")
_ADDRESS_LINE = re.compile(r"^[\w][\w '\u2019.,/\-]*$")
_UK_PHONE = re.compile(r"^(?:\+44\s?|0)(?:\d\s?){9,10}$")

OLDEST_AGE_YEARS = 25  # care leavers may stay on the index until 25 with consent


def validate_contactpoint_id(value: str) -> None:
    """Refuse a stored ID that is not 12 digits with a correct Damm check digit."""
    if not contactpoint_id.is_valid(value):
        raise ValidationError(
            "%(value)s is not a valid ContactPoint ID (12 digits with a check digit)",
            code="invalid_contactpoint_id",
            params={"value": value},
        )


def validate_person_name(value: str) -> None:
    if not _PERSON_NAME.match(value):
        raise ValidationError(
            "A name may contain only letters, spaces, hyphens, apostrophes and full stops",
            code="invalid_name",
        )


def validate_title(value: str) -> None:
    if not _TITLE.match(value):
        raise ValidationError(
            "Use letters, digits, spaces and simple punctuation only", code="invalid_title"
        )


def validate_address_line(value: str) -> None:
    if not _ADDRESS_LINE.match(value):
        raise ValidationError(
            "An address line may contain letters, digits, spaces and , . ' / - only",
            code="invalid_address_line",
        )


def validate_postcode(value: str) -> None:
    try:
        canonical = str(parse_postcode(value))
    except InvalidPostcode as error:
        raise ValidationError(
            "%(value)s is not a UK postcode in the format M14 5AB",
            code="invalid_postcode",
            params={"value": value},
        ) from error
    if canonical != value:
        raise ValidationError(
            "Store the postcode in its standard form, %(canonical)s",
            code="postcode_not_canonical",
            params={"canonical": canonical},
        )


def validate_uk_phone(value: str) -> None:
    if not _UK_PHONE.match(value):
        raise ValidationError(
            "%(value)s is not a UK phone number such as 0161 496 0000",
            code="invalid_phone",
            params={"value": value},
        )


def validate_not_future(value: dt.date) -> None:
    if value > timezone.localdate():
        raise ValidationError(
            "The date %(value)s is in the future",
            code="future_date",
            params={"value": value.isoformat()},
        )


def validate_child_date_of_birth(value: dt.date) -> None:
    """A child's date of birth is not in the future and within the index's age range."""
    validate_not_future(value)
    today = timezone.localdate()
    try:
        earliest = today.replace(year=today.year - OLDEST_AGE_YEARS)
    except ValueError:  # 29 February
        earliest = today.replace(year=today.year - OLDEST_AGE_YEARS, day=28)
    if value < earliest:
        raise ValidationError(
            "A date of birth of %(value)s is too old for the children's index",
            code="too_old",
            params={"value": value.isoformat()},
        )
