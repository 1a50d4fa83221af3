"""Plain input structures for writing a child into the index.

Whatever reports a child (the synthetic generator now, source feeds later) builds these;
index.services and index.bulk turn them into rows. They carry no database identity.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from contactpoint.index.vocabularies import (
    AddressKind,
    ChildStatus,
    NameKind,
    ReturnIntention,
    Whereabouts,
)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Which source record reported these facts, and when it arrived."""

    source_system: str
    source_record_id: str
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NameRecord:
    given_names: str
    family_name: str
    kind: str = NameKind.CURRENT


@dataclass(frozen=True, slots=True)
class AddressRecord:
    line_1: str
    town: str
    postcode: str
    line_2: str = ""
    kind: str = AddressKind.CURRENT
    from_date: dt.date | None = None
    to_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class CarerRecord:
    given_names: str
    family_name: str
    relationship: str
    has_parental_responsibility: bool
    lives_with_child: bool = True
    line_1: str = ""
    line_2: str = ""
    town: str = ""
    postcode: str = ""
    phones: tuple[str, ...] = ()  # up to three, most useful first


@dataclass(frozen=True, slots=True)
class EnrolmentRecord:
    school_urn: str
    started_on: dt.date
    ended_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class GpRegistrationRecord:
    practice_ods_code: str
    registered_on: dt.date
    ended_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class InvolvementRecord:
    service_type: str
    organisation_name: str
    phone: str
    started_on: dt.date
    practitioner_name: str = ""
    practitioner_role: str = ""
    secure_email: str = ""
    other_service: str = ""
    ended_on: dt.date | None = None
    is_lead_professional: bool = False
    holds_caf_assessment: bool = False
    caf_assessment_on: dt.date | None = None
    sensitive_basis: str = ""


@cache
def _field_names(record_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record_type))


def involvement_values(involvement: InvolvementRecord) -> dict[str, Any]:
    """The record's values by name: InvolvementRecord's fields are Involvement's own."""
    return {name: getattr(involvement, name) for name in _field_names(InvolvementRecord)}


@dataclass(frozen=True, slots=True)
class ChildRecord:
    """Everything the index may hold about one child, as reported by one source."""

    source: SourceRef
    gender: str
    date_of_birth: dt.date
    responsible_la_ons_code: str
    names: tuple[NameRecord, ...]
    addresses: tuple[AddressRecord, ...] = ()
    carers: tuple[CarerRecord, ...] = ()
    enrolments: tuple[EnrolmentRecord, ...] = ()
    gp_registrations: tuple[GpRegistrationRecord, ...] = ()
    involvements: tuple[InvolvementRecord, ...] = ()
    status: str = ChildStatus.ACTIVE
    whereabouts: str = Whereabouts.CURRENT_ADDRESS
    left_england_intends_return: str = ""
    is_shielded: bool = False
    died_on: dt.date | None = None
    left_england_on: dt.date | None = None
    archived_on: dt.date | None = None

    def __post_init__(self) -> None:
        if self.whereabouts == Whereabouts.LEFT_ENGLAND and not self.left_england_intends_return:
            object.__setattr__(self, "left_england_intends_return", ReturnIntention.UNKNOWN)
