"""The password policy: at least 12 characters and not on a deny-list; no composition rules."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # three or four random words: lower case, no digits
        "plumtreekettlerun",
        "Z" * 256,
    ],
)
def test_long_passwords_need_no_digits_symbols_or_capitals(password: str) -> None:
    validate_password(password)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("elevenchars", "at least 12"),
        ("password1234", "too common"),
        ("qwertyuiop123", "too common"),
        ("ContactPoint2024!", "linked to this service"),
        ("Safeguarding#2025", "linked to this service"),
        ("Z" * 257, "256 characters or fewer"),
    ],
)
def test_short_common_or_service_passwords_are_refused(password: str, why: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_password(password)
    assert why in " ".join(refused.value.messages)
