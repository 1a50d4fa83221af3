"""Password policy after NCSC guidance: length and deny-lists, no composition rules.

Django's MinimumLengthValidator (12) and CommonPasswordValidator (20,000 common passwords)
do most of the work; these two add an upper bound and the words specific to this service
that an attacker would try first (reference/service_words.txt, shipped in the repository).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

SERVICE_WORDS_FILE = Path(__file__).resolve().parent / "reference" / "service_words.txt"
MAXIMUM_LENGTH = 256  # long enough for any passphrase, short enough to bound hashing work


class MaximumLengthValidator:
    """Refuse absurdly long passwords, which only serve to make the hasher work hard."""

    def __init__(self, max_length: int = MAXIMUM_LENGTH) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"Your password must be {self.max_length} characters or fewer.",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password must be {self.max_length} characters or fewer."


@cache
def _service_words() -> frozenset[str]:
    lines = SERVICE_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and line[0] != "#")


def _core(password: str) -> str:
    """The password with digits and symbols stripped: 'ContactPoint2024!' -> 'contactpoint'."""
    return re.sub(r"[^a-z]", "", password.lower())


class ServiceWordValidator:
    """Refuse passwords that are just this service's name or words around it, plus decoration."""

    def validate(self, password: str, user: Any = None) -> None:
        core = _core(password)
        if core in _service_words() or password.lower() in _service_words():
            raise ValidationError(
                "Your password is too easy to guess: it is built on a word linked to this "
                "service. Try three random words.",
                code="password_service_word",
            )

    def get_help_text(self) -> str:
        return "Your password cannot be built on the service's name or similar words."
