"""A source record's report as stored: the fast encoder says what record_to_json says."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from contactpoint.feeds.serialise import (
    encode_json,
    encode_report,
    record_from_json,
    record_to_json,
)
from contactpoint.index.records import (
    AddressRecord,
    CarerRecord,
    ChildRecord,
    EnrolmentRecord,
    GpRegistrationRecord,
    InvolvementRecord,
    NameRecord,
    SourceRef,
)
from contactpoint.index.vocabularies import AddressKind, ChildStatus, NameKind, Whereabouts
from contactpoint.matching.features import from_child_record
from contactpoint.matching.model import current_model


def _every_part() -> ChildRecord:
    return ChildRecord(
        source=SourceRef(
            "nw-health",
            "H-000123",
            dt.datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=dt.UTC),
        ),
        gender="F",
        date_of_birth=dt.date(2015, 3, 9),
        responsible_la_ons_code="E08000003",
        names=(
            NameRecord("Zoë Anne", "O'Brien-Łukasz"),
            NameRecord("Zoe", "Obrien", NameKind.ALIAS),
        ),
        addresses=(
            AddressRecord("12 Mill Lane", "Manchester", "M1 1AA", from_date=dt.date(2020, 1, 1)),
            AddressRecord(
                '3 Back "Row"',
                "Salford",
                "M5 4WT",
                line_2="Flat\t2",
                kind=AddressKind.PREVIOUS,
                to_date=dt.date(2019, 12, 31),
            ),
        ),
        carers=(
            CarerRecord(
                "Mary", "O'Brien", "mother", True, phones=("07700 900123", "0161 496 0000")
            ),
        ),
        enrolments=(EnrolmentRecord("105432", dt.date(2019, 9, 4)),),
        gp_registrations=(GpRegistrationRecord("P84001", dt.date(2015, 3, 20)),),
        involvements=(
            InvolvementRecord(
                "health_visitor",
                "Manchester Community Health",
                "0161 496 0101",
                dt.date(2015, 4, 1),
                practitioner_name="Aisha Rahman",
                ended_on=dt.date(2020, 3, 1),
                is_lead_professional=True,
            ),
        ),
        status=ChildStatus.ACTIVE,
        whereabouts=Whereabouts.CURRENT_ADDRESS,
    )


def test_the_encoded_report_is_the_value_record_to_json_gives() -> None:
    record = _every_part()

    encoded = encode_report(record)

    assert json.loads(encoded) == record_to_json(record)
    assert record_from_json(json.loads(encoded)) == record
    assert "Zoë" in encoded  # UTF-8, which a JSON column stores as it stands


def test_a_stored_explanation_and_report_say_what_json_dumps_says() -> None:
    """The bulk load and the online loader store both through encode_json."""
    record = _every_part()
    retyped = dataclasses.replace(
        record, names=(NameRecord("Zoe", "OBrien"),), date_of_birth=dt.date(2015, 9, 3)
    )
    score = current_model().score(from_child_record(retyped), from_child_record(record))
    explanation = score.as_dict()
    report = record_to_json(record)

    for value in (explanation, report, {}):
        assert json.loads(encode_json(value)) == value
    assert {f["comparison"] for f in explanation["fields"]} >= {"name", "date_of_birth"}
    assert "O'Brien-Łukasz" in encode_json(report)
