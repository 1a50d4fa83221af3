"""Checks on the few words people type into shielding: short, plain, and never a location.

A justification explains why the shield is needed; it must not itself say where the child
is or how to reach anyone (it is read by other officers, and the index holds no case notes:
DESIGN, "no case information"). Postcodes, phone numbers, email and web addresses are refused.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from contactpoint.shielding.vocabularies import (
    BREAK_GLASS_REASON_MAX_LENGTH,
    BREAK_GLASS_REASON_MIN_LENGTH,
    JUSTIFICATION_MAX_LENGTH,
    JUSTIFICATION_MIN_LENGTH,
)

# Letters (including accented ones), digits, spaces and ordinary punctuation: no markup.
_PLAIN = re.compile(r"^[\w .,;:'\u2019()\-/&?!\"]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
# Ten or more digits, however spaced: a UK phone number (a date has at most eight).
_PHONE = re.compile(r"(?:\d[\s\-]?){9}\d")
_EMAIL_OR_WEB = re.compile(r"@|https?:|www\.", re.IGNORECASE)

NO_LOCATION_MESSAGE = (
    "Do not write a postcode, phone number, email or web address here: say why, not where."
)


def clean_text(value: str) -> str:
    """Whitespace collapsed to single spaces, ends trimmed."""
    return " ".join(str(value).split())


def _check_plain(
    value: str, *, what: str, minimum: int, maximum: int, digits_allowed: bool = True
) -> str:
    text = clean_text(value)
    if _CONTROL.search(str(value)) or (text and not _PLAIN.match(text)):
        raise ValidationError(
            f"{what} can only contain letters, numbers, spaces and ordinary punctuation.",
            code="characters",
        )
    if len(text) < minimum:
        raise ValidationError(f"{what} must be at least {minimum} characters.", code="too_short")
    if len(text) > maximum:
        raise ValidationError(f"{what} must be {maximum} characters or fewer.", code="too_long")
    if _POSTCODE.search(text) or _PHONE.search(text) or _EMAIL_OR_WEB.search(text):
        raise ValidationError(NO_LOCATION_MESSAGE, code="location")
    return text


def validate_justification(value: str) -> str:
    """A shielding decision's justification, cleaned; raises ValidationError when unfit."""
    return _check_plain(
        value,
        what="The justification",
        minimum=JUSTIFICATION_MIN_LENGTH,
        maximum=JUSTIFICATION_MAX_LENGTH,
    )


def validate_break_glass_reason(value: str) -> str:
    """The typed reason for breaking the glass, cleaned; raises ValidationError when unfit."""
    return _check_plain(
        value,
        what="The reason",
        minimum=BREAK_GLASS_REASON_MIN_LENGTH,
        maximum=BREAK_GLASS_REASON_MAX_LENGTH,
    )


def validate_short_note(value: str, *, what: str = "The note", maximum: int = 300) -> str:
    """A short note on a case (an outcome, a requester's summary); may be empty."""
    if not clean_text(value):
        return ""
    return _check_plain(value, what=what, minimum=1, maximum=maximum)
