"""Properties of the small parsers the gates rely on (hypothesis)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactpoint.access.services import InvalidChange, mask_certificate, validate_purpose
from contactpoint.access.vocabularies import (
    OTHER_REASON_MAX_LENGTH,
    OTHER_REASON_PATTERN,
    AccessReason,
)


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=8, max_size=16))
def test_a_masked_certificate_keeps_only_its_last_four_characters(number: str) -> None:
    masked = mask_certificate(number)
    assert masked == "****" + number[-4:] and len(masked) == 8


@given(st.text(max_size=300))
def test_an_accepted_other_reason_is_always_short_plain_text(text: str) -> None:
    try:
        reason, other = validate_purpose(reason=AccessReason.OTHER, other=text)
    except InvalidChange:
        return
    assert reason == AccessReason.OTHER
    assert 0 < len(other) <= OTHER_REASON_MAX_LENGTH
    assert re.fullmatch(OTHER_REASON_PATTERN, other)
    assert "<" not in other and ">" not in other and "\n" not in other


@given(st.sampled_from(AccessReason.values), st.text(max_size=50))
def test_a_listed_reason_other_than_other_ignores_any_text(reason: str, text: str) -> None:
    if reason == AccessReason.OTHER:
        return
    assert validate_purpose(reason=reason, other=text) == (reason, "")


@given(st.text(max_size=40).filter(lambda r: r not in AccessReason.values))
def test_a_reason_outside_the_list_is_always_refused(reason: str) -> None:
    with pytest.raises(InvalidChange):
        validate_purpose(reason=reason, other="anything")
