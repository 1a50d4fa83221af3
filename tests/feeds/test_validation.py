"""Validating one feed row: each refusal names the field and says what is wrong."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from tests.feeds.conftest import MANCHESTER, amelia, years_ago

from contactpoint.feeds.schema import RecordPart
from contactpoint.feeds.validation import (
    ParsedRow,
    RowContext,
    RowRejected,
    content_hash,
    nhs_number_is_valid,
    parse_row,
    scramble_nhs_number,
)
from contactpoint.index.vocabularies import ChildStatus, NameKind, Whereabouts

NHS_NUMBER = "9434765919"  # a valid test-range NHS number (modulus 11)
KEY = b"test-key"


def context(parts: set[str] | None = None, **changes: object) -> RowContext:
    values: dict[str, object] = {
        "source_code": "mcr-education",
        "allowed_parts": frozenset(parts if parts is not None else RecordPart.values),
        "organisation_la_code": MANCHESTER,
        "received_at": timezone.now(),
        "today": timezone.localdate(),
        "nhs_key": KEY,
        "la_codes": frozenset({MANCHESTER, "E08000001"}),
        "district_la": {"M14": MANCHESTER, "BL1": "E08000001"},
        "school_urns": frozenset({"105432"}),
        "practice_codes": frozenset({"P84001"}),
    }
    values.update(changes)
    return RowContext(**values)  # type: ignore[arg-type]


def parse(row: dict[str, str], ctx: RowContext | None = None) -> ParsedRow:
    return parse_row(2, row, ctx or context())


def reasons(row: dict[str, str], ctx: RowContext | None = None) -> str:
    with pytest.raises(RowRejected) as caught:
        parse(row, ctx)
    return "; ".join(caught.value.reasons)


def test_a_good_row_becomes_a_child_record_with_canonical_postcode() -> None:
    parsed = parse(amelia(postcode="m145ab"))
    record = parsed.record
    assert record is not None
    assert record.addresses[0].postcode == "M14 5AB"
    assert record.responsible_la_ons_code == MANCHESTER
    assert record.names[0].given_names == "Amelia Rose"
    assert record.whereabouts == Whereabouts.CURRENT_ADDRESS
    assert parsed.match is not None and parsed.match.places[0].district == "M14"


def test_a_future_date_of_birth_is_refused() -> None:
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert "date_of_birth" in reasons(amelia(date_of_birth=tomorrow))
    assert "in the future" in reasons(amelia(date_of_birth=tomorrow))


def test_someone_aged_18_is_refused() -> None:
    assert "aged 18 or over" in reasons(amelia(date_of_birth=years_ago(18, 1, 1)))


def test_a_date_that_does_not_exist_is_refused() -> None:
    assert "YYYY-MM-DD" in reasons(amelia(date_of_birth="2019-02-30"))
    assert "YYYY-MM-DD" in reasons(amelia(date_of_birth="14/03/2019"))


def test_an_impossible_postcode_is_refused() -> None:
    assert "not a UK postcode" in reasons(amelia(postcode="M14 5CV"))  # C and V never inward
    assert "no postcode area QQ" in reasons(amelia(postcode="QQ1 1AB"))


def test_every_problem_is_reported_at_once() -> None:
    text = reasons(amelia(gender="girl", date_of_birth="2019-13-01", carer_1_phone="123"))
    assert "gender" in text and "date_of_birth" in text and "carer_1_phone" in text


def test_a_source_may_not_supply_parts_it_is_not_registered_for() -> None:
    text = reasons(amelia(), context(parts={RecordPart.CHILD, RecordPart.ADDRESS}))
    assert "not registered to supply parents and carers" in text
    assert "not registered to supply school" in text


def test_a_sensitive_service_needs_its_own_permission() -> None:
    row = amelia(
        involvement_1_service_type="mental_health",
        involvement_1_organisation="Manchester CAMHS",
        involvement_1_phone="0161 496 0999",
        involvement_1_start_date=years_ago(1),
        involvement_1_sensitive_basis="consent",
    )
    permitted = set(RecordPart.values) - {RecordPart.SENSITIVE_SERVICES}
    assert "sensitive services" in reasons(row, context(parts=permitted))
    assert parse(row).record.involvements[0].sensitive_basis == "consent"  # type: ignore[union-attr]


def test_an_unknown_school_or_practice_is_refused() -> None:
    assert "not a school ContactPoint knows" in reasons(amelia(school_urn="999999"))
    assert "not a GP practice" in reasons(amelia(gp_practice_code="Y99999"))


def test_the_nhs_number_is_scrambled_and_never_kept_raw() -> None:
    parsed = parse(amelia(nhs_number="943 476 5919"))
    assert parsed.nhs_hash == scramble_nhs_number(NHS_NUMBER, KEY)
    assert NHS_NUMBER not in repr(parsed)
    assert "nhs_number: not a valid" in reasons(amelia(nhs_number="9434765918"))


def test_the_responsible_la_comes_from_the_postcode_before_the_source() -> None:
    parsed = parse(amelia(postcode="BL1 4AB"))
    assert parsed.record.responsible_la_ons_code == "E08000001"  # type: ignore[union-attr]


def test_without_a_postcode_or_la_from_a_national_source_the_la_is_left_unknown() -> None:
    row = amelia(address_line_1="", town="", postcode="")
    parsed = parse(row, context(organisation_la_code=""))
    assert parsed.record is not None and parsed.record.responsible_la_ons_code == ""


def test_a_partial_address_is_noted_not_stored_and_still_matched_on() -> None:
    parsed = parse(amelia(town=""))
    assert parsed.record.addresses == ()  # type: ignore[union-attr]
    assert any("address not stored" in n for n in parsed.notes)
    assert parsed.match is not None and parsed.match.places[0].postcode == "M14 5AB"


def test_a_former_family_name_is_kept_as_a_former_name() -> None:
    record = parse(amelia(former_family_name="Hughes")).record
    assert record is not None
    assert [(n.kind, n.family_name) for n in record.names][1] == (NameKind.FORMER, "Hughes")


def test_deceased_and_left_england_events_need_their_dates() -> None:
    assert "event_date: needed" in reasons(amelia(event_type="deceased"))
    died = parse(amelia(event_type="deceased", event_date=years_ago(0, 1, 1))).record
    assert died is not None and died.status == ChildStatus.DECEASED
    left = parse(amelia(event_type="left_england", event_date=years_ago(0, 1, 1))).record
    assert left is not None and left.whereabouts == Whereabouts.LEFT_ENGLAND
    assert left.left_england_intends_return == "unknown"


def test_a_withdrawal_needs_only_the_source_record_id() -> None:
    parsed = parse({"source_record_id": "MCR-000123", "event_type": "withdraw"})
    assert parsed.record is None


def test_a_sensitive_record_flag_asks_for_the_shield() -> None:
    assert parse(amelia(sensitive_record="yes")).record.is_shielded  # type: ignore[union-attr]


def test_the_content_hash_ignores_spacing_and_empty_cells_but_not_values() -> None:
    plain = parse(amelia()).content_hash
    assert (
        parse({**amelia(), "given_names": "  Amelia Rose ", "town": "Manchester"}).content_hash
        == plain
    )
    assert parse({**amelia(), "address_line_2": ""}).content_hash == plain
    assert parse(amelia(given_names="Amelia")).content_hash != plain


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_completes_a_valid_nine_digit_body(body: str) -> None:
    valid = [d for d in "0123456789" if nhs_number_is_valid(body + d)]
    assert len(valid) <= 1


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(max_size=5)))
def test_content_hash_does_not_depend_on_key_order(values: dict[str, str]) -> None:
    assert content_hash(values) == content_hash(dict(reversed(list(values.items()))))


@given(
    st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), min_size=1, max_size=8)
)
def test_a_row_hashes_as_every_stored_hash_was_made(values: dict[str, str]) -> None:
    """Loads before the hash was sped up stored these bytes' hashes: a re-sent row must still
    be recognised as unchanged, whatever characters it holds (controls, accents, emoji)."""
    canonical = json.dumps(sorted(values.items()), ensure_ascii=False, separators=(",", ":"))
    assert content_hash(values) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
