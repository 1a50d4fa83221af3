"""The ContactPoint ID: twelve digits, the last a Damm check digit.

Damm's quasigroup detects every single-digit error and every adjacent transposition, which
is why it was chosen over Luhn (which misses 09 <-> 90). IDs are issued at random from the
11-digit space rather than in sequence, so that one child's ID says nothing about another's.
"""

from __future__ import annotations

import re
import secrets

BODY_LENGTH = 11
LENGTH = BODY_LENGTH + 1

# The order-10 totally anti-symmetric quasigroup from H. Michael Damm's 2004 thesis.
_DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_SEPARATORS = re.compile(r"[\s-]")


class InvalidContactPointId(ValueError):
    """Raised when a string is not a well-formed ContactPoint ID."""


def check_digit(body: str) -> int:
    """The Damm check digit for a string of digits."""
    interim = 0
    for char in body:
        interim = _DAMM_TABLE[interim][int(char)]
    return interim


def with_check_digit(body: str) -> str:
    """Append the check digit to an 11-digit body."""
    if len(body) != BODY_LENGTH or not body.isdigit():
        raise InvalidContactPointId(f"an ID body is {BODY_LENGTH} digits, not {body!r}")
    return body + str(check_digit(body))


def is_valid(value: str) -> bool:
    """True when the canonical form has 12 digits and a correct check digit."""
    return len(value) == LENGTH and value.isascii() and value.isdigit() and check_digit(value) == 0


def parse(raw: str) -> str:
    """Canonical 12-digit form of a typed ID ('1234 5678 9012' or '1234-5678-9012')."""
    candidate = _SEPARATORS.sub("", raw or "")
    if len(candidate) != LENGTH or not candidate.isascii() or not candidate.isdigit():
        raise InvalidContactPointId("a ContactPoint ID is 12 digits, such as 1234-5678-9012")
    if check_digit(candidate) != 0:
        raise InvalidContactPointId(
            "this is not a valid ContactPoint ID: check for a mistyped digit"
        )
    return candidate


def display(value: str) -> str:
    """The grouped form people read and type: 1234-5678-9012."""
    return f"{value[0:4]}-{value[4:8]}-{value[8:12]}"


def random_id() -> str:
    """A fresh random ID; uniqueness is enforced by IssuedContactPointId, not here."""
    return with_check_digit(f"{secrets.randbelow(10**BODY_LENGTH):0{BODY_LENGTH}d}")


def permuted_id(sequence_number: int, *, seed: int) -> str:
    """A deterministic, collision-free ID for the n-th synthetic child of a seeded run.

    An affine map n -> a*n + b (mod 10^11) with a coprime to 10 is a bijection on the body
    space, so distinct n never share an ID, yet neighbouring children get unrelated IDs.
    """
    modulus = 10**BODY_LENGTH
    # 7_919_000_003 is odd and 3 mod 5; adding multiples of 20 keeps both, so it stays coprime.
    multiplier = 7_919_000_003 + 20 * (seed % 1_000_003)
    offset = (seed * 2_654_435_761) % modulus
    return with_check_digit(f"{(multiplier * sequence_number + offset) % modulus:0{BODY_LENGTH}d}")
