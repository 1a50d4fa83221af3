"""The ContactPoint ID's check digit catches every single-digit error and adjacent swap."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactpoint.index import contactpoint_id
from contactpoint.index.contactpoint_id import InvalidContactPointId

bodies = st.text(alphabet="0123456789", min_size=11, max_size=11)


@given(bodies)
def test_an_issued_id_is_valid(body: str) -> None:
    assert contactpoint_id.is_valid(contactpoint_id.with_check_digit(body))


@given(bodies, st.integers(min_value=0, max_value=11), st.integers(min_value=1, max_value=9))
def test_every_single_digit_error_is_caught(body: str, position: int, shift: int) -> None:
    valid = contactpoint_id.with_check_digit(body)
    wrong_digit = str((int(valid[position]) + shift) % 10)
    mistyped = valid[:position] + wrong_digit + valid[position + 1 :]
    assert not contactpoint_id.is_valid(mistyped)


@given(bodies, st.integers(min_value=0, max_value=10))
def test_every_adjacent_transposition_is_caught(body: str, position: int) -> None:
    valid = contactpoint_id.with_check_digit(body)
    a, b = valid[position], valid[position + 1]
    if a == b:
        return  # swapping equal digits is not an error
    swapped = valid[:position] + b + a + valid[position + 2 :]
    assert not contactpoint_id.is_valid(swapped)


@given(bodies)
def test_typed_forms_parse_to_the_canonical_id(body: str) -> None:
    valid = contactpoint_id.with_check_digit(body)
    shown = contactpoint_id.display(valid)
    assert contactpoint_id.parse(shown) == valid
    assert contactpoint_id.parse(shown.replace("-", " ")) == valid


@pytest.mark.parametrize(
    "typed",
    ["", "1234", "1234-5678-901X", "1234567890123", "١٢٣٤٥٦٧٨٩٠١٢", "12345678901 2 3"],
)
def test_malformed_ids_are_refused_with_a_message(typed: str) -> None:
    with pytest.raises(InvalidContactPointId, match="12 digits"):
        contactpoint_id.parse(typed)


def test_a_wrong_check_digit_is_refused_as_mistyped() -> None:
    valid = contactpoint_id.with_check_digit("12345678901")
    wrong = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    with pytest.raises(InvalidContactPointId, match="mistyped"):
        contactpoint_id.parse(wrong)


def test_synthetic_ids_are_distinct_and_not_sequential() -> None:
    ids = [contactpoint_id.permuted_id(n, seed=7) for n in range(1, 20_001)]
    assert len(set(ids)) == len(ids)
    assert all(contactpoint_id.is_valid(i) for i in ids)
    neighbours = sum(abs(int(a[:11]) - int(b[:11])) < 1000 for a, b in itertools.pairwise(ids))
    assert neighbours == 0


def test_random_ids_are_valid() -> None:
    assert all(contactpoint_id.is_valid(contactpoint_id.random_id()) for _ in range(1000))
