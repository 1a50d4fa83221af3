"""How a source reports the true population: for now one perfect reporter.

A reporter turns a SyntheticHousehold (the truth) into index.records.ChildRecord objects (what
a source system says). The perfect reporter says exactly the truth, under the source system
"synthetic"; dirty feed reporters (typos, missing fields, stale addresses) go beside it and
can be scored against the same truth.
"""

from __future__ import annotations

import datetime as dt

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
from contactpoint.index.vocabularies import AddressKind, NameKind, Whereabouts
from contactpoint.synthetic.population import (
    Residence,
    SyntheticChild,
    SyntheticHousehold,
)

SOURCE_SYSTEM = "synthetic"


def source_record_id(household: SyntheticHousehold, child: SyntheticChild) -> str:
    """E08000003-HH0000123-2: the household is everything before the last hyphen."""
    return f"{household.household_id}-{child.position}"


def household_of(source_record_id: str) -> str:
    """The household part of a synthetic source record id."""
    return source_record_id.rsplit("-", 1)[0]


def received_at(as_of: dt.date) -> dt.datetime:
    """A fixed arrival time, so the same seed gives the same provenance too."""
    return dt.datetime.combine(as_of, dt.time(0, 0), tzinfo=dt.UTC)


def _residence_record(residence: Residence, kind: str, born: dt.date) -> AddressRecord | None:
    """The child's view of a household address: from their birth at the earliest."""
    if residence.to_date is not None and residence.to_date < born:
        return None  # the family lived there before this child was born
    address = residence.address
    return AddressRecord(
        line_1=address.line_1,
        line_2=address.line_2,
        town=address.town,
        postcode=address.postcode,
        kind=kind,
        from_date=max(residence.from_date, born),
        to_date=residence.to_date,
    )


def report_child(
    household: SyntheticHousehold, child: SyntheticChild, *, arrived: dt.datetime
) -> ChildRecord:
    """The perfect report of one child: every true fact, nothing else."""
    born = child.date_of_birth
    names = [NameRecord(child.name.given_names, child.name.family_name)]
    names.extend(
        NameRecord(n.given_names, n.family_name, NameKind.FORMER) for n in child.former_names
    )
    names.extend(NameRecord(n.given_names, n.family_name, NameKind.ALIAS) for n in child.aliases)

    addresses: list[AddressRecord] = []
    if household.home is not None:
        kind = (
            AddressKind.CURRENT
            if household.whereabouts == Whereabouts.CURRENT_ADDRESS
            else AddressKind.LAST_KNOWN
        )
        current = _residence_record(household.home, kind, born)
        if current is not None:
            addresses.append(current)
    if household.previous_home is not None:
        previous = _residence_record(household.previous_home, AddressKind.PREVIOUS, born)
        if previous is not None:
            addresses.append(previous)

    carers = []
    for link in child.carers:
        adult = household.adults[link.adult]
        address = adult.address
        carers.append(
            CarerRecord(
                given_names=adult.given_names,
                family_name=adult.family_name,
                relationship=link.relationship,
                has_parental_responsibility=link.has_parental_responsibility,
                lives_with_child=adult.lives_in_household,
                line_1=address.line_1 if address else "",
                line_2=address.line_2 if address else "",
                town=address.town if address else "",
                postcode=address.postcode if address else "",
                phones=adult.phones,
            )
        )

    enrolments: tuple[EnrolmentRecord, ...] = ()
    if child.school is not None:
        place = child.school
        enrolments = (EnrolmentRecord(place.school.urn, place.started_on, place.ended_on),)
    registrations: tuple[GpRegistrationRecord, ...] = ()
    if child.gp is not None:
        gp = child.gp
        registrations = (GpRegistrationRecord(gp.ods_code, gp.registered_on, gp.ended_on),)

    involvements = tuple(
        InvolvementRecord(
            service_type=inv.service_type,
            organisation_name=inv.practitioner.organisation,
            phone=inv.practitioner.phone,
            started_on=inv.started_on,
            practitioner_name=inv.practitioner.name,
            practitioner_role=inv.practitioner.role,
            secure_email=inv.practitioner.email,
            other_service=inv.other_service,
            ended_on=inv.ended_on,
            is_lead_professional=inv.is_lead_professional,
            holds_caf_assessment=inv.caf_assessment_on is not None,
            caf_assessment_on=inv.caf_assessment_on,
            sensitive_basis=inv.sensitive_basis,
        )
        for inv in child.involvements
    )

    left = household.left_england_on if household.whereabouts == Whereabouts.LEFT_ENGLAND else None
    return ChildRecord(
        source=SourceRef(SOURCE_SYSTEM, source_record_id(household, child), arrived),
        gender=child.gender,
        date_of_birth=born,
        responsible_la_ons_code=household.la_code,
        names=tuple(names),
        addresses=tuple(addresses),
        carers=tuple(carers),
        enrolments=enrolments,
        gp_registrations=registrations,
        involvements=involvements,
        status=child.status,
        whereabouts=household.whereabouts,
        left_england_intends_return=household.intends_return if left else "",
        is_shielded=household.is_shielded,
        died_on=child.died_on,
        left_england_on=left,
    )
