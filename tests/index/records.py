"""A realistic, valid child record to vary in tests (the synthetic generator makes bulk ones)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.utils import timezone

from contactpoint.index.records import (
    AddressRecord,
    CarerRecord,
    ChildRecord,
    InvolvementRecord,
    NameRecord,
    SourceRef,
)
from contactpoint.index.vocabularies import (
    AddressKind,
    CarerRelationship,
    Gender,
    NameKind,
    SensitiveBasis,
    ServiceType,
)

MANCHESTER = "E08000003"


def child_record(**overrides: Any) -> ChildRecord:
    """Amelia O'Neill, 7, of Manchester, with two carers, a health visitor and a SENCO."""
    today = timezone.localdate()
    record = ChildRecord(
        source=SourceRef(
            source_system="manchester-education",
            source_record_id="MCR-000123",
            received_at=timezone.now(),
        ),
        gender=Gender.FEMALE,
        date_of_birth=today.replace(year=today.year - 7, day=1),
        responsible_la_ons_code=MANCHESTER,
        names=(
            NameRecord(given_names="Amelia Rose", family_name="O'Neill"),
            NameRecord(given_names="Amelia", family_name="Hughes", kind=NameKind.FORMER),
        ),
        addresses=(
            AddressRecord(line_1="14 Victoria Road", town="Manchester", postcode="m14 5ab"),
            AddressRecord(
                line_1="2 Mill Lane",
                town="Manchester",
                postcode="M20 2QQ",
                kind=AddressKind.PREVIOUS,
                from_date=dt.date(2019, 1, 1),
                to_date=dt.date(2022, 6, 30),
            ),
        ),
        carers=(
            CarerRecord(
                given_names="Sarah",
                family_name="O'Neill",
                relationship=CarerRelationship.MOTHER,
                has_parental_responsibility=True,
                phones=("07700 900123", "0161 496 0456"),
            ),
        ),
        involvements=(
            InvolvementRecord(
                service_type=ServiceType.SENCO,
                organisation_name="Victoria Road Primary School",
                practitioner_name="Priya Shah",
                practitioner_role="SENCO",
                phone="0161 496 0789",
                secure_email="priya.shah@victoriaroad.sch.example",
                started_on=today.replace(year=today.year - 1, day=1),
                is_lead_professional=True,
                holds_caf_assessment=True,
                caf_assessment_on=today.replace(year=today.year - 1, day=1),
            ),
            InvolvementRecord(
                service_type=ServiceType.MENTAL_HEALTH,
                organisation_name="Manchester CAMHS",
                phone="0161 496 0999",
                started_on=today.replace(year=today.year - 1, day=1),
                sensitive_basis=SensitiveBasis.CONSENT,
            ),
        ),
    )
    return dataclasses.replace(record, **overrides)
