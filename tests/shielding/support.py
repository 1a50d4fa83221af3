"""A child whose whereabouts are worth hiding, the people around it, and what must stay hidden.

Every location detail of the child below is a distinctive value, listed in HIDDEN_VALUES, so
that a test can look for each one in any page, API response, log line or audit event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone
from tests.conftest import sign_in_client
from tests.index.records import child_record

from contactpoint.access import services as access_services
from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Role
from contactpoint.access.selectors import PURPOSE_SESSION_KEY
from contactpoint.index.models import Child, GpPractice, LocalAuthority, School
from contactpoint.index.records import (
    AddressRecord,
    CarerRecord,
    EnrolmentRecord,
    GpRegistrationRecord,
    InvolvementRecord,
    NameRecord,
    SourceRef,
)
from contactpoint.index.services import create_child
from contactpoint.index.vocabularies import (
    AddressKind,
    CarerRelationship,
    SchoolPhase,
    ServiceType,
)

MANCHESTER = "E08000003"
BOLTON = "E08000001"
PURPOSE = "safeguarding_concern"


@dataclasses.dataclass(frozen=True)
class Whereabouts:
    """One child's location details: each value is unique to this child in the test database."""

    line_1: str
    town: str
    postcode: str
    previous_line_1: str
    previous_postcode: str
    carer_given: str
    carer_family: str
    carer_phone: str
    school_urn: str
    school_name: str
    school_phone: str
    school_email: str
    gp_ods: str
    gp_name: str
    gp_phone: str
    practitioner: str
    practitioner_phone: str
    practitioner_email: str
    service_organisation: str

    def values(self) -> tuple[str, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))


# The shielded child's: what nobody without the right may ever see.
HIDDEN = Whereabouts(
    line_1="17 Quillfeather Close",
    town="Wythenshawe",
    postcode="M22 9QX",
    previous_line_1="3 Tamarisk Gardens",
    previous_postcode="M23 1TJ",
    carer_given="Philippa",
    carer_family="Wrenfield",
    carer_phone="07700 900987",
    school_urn="199871",
    school_name="Brackenholme Primary School",
    school_phone="0161 496 0311",
    school_email="office@brackenholme.sch.example",
    gp_ods="P84871",
    gp_name="Larkspur Medical Practice",
    gp_phone="0161 496 0322",
    practitioner="Oonagh Featherstone",
    practitioner_phone="0161 496 0333",
    practitioner_email="oonagh.featherstone@refugesupport.example",
    service_organisation="Kestrelgate Family Support",
)

# An unshielded child's: shown to practitioners, proving the search for HIDDEN would find them.
VISIBLE = Whereabouts(
    line_1="41 Halberd Street",
    town="Levenshulme",
    postcode="M19 3PQ",
    previous_line_1="9 Juniper Row",
    previous_postcode="M19 2HD",
    carer_given="Rosalind",
    carer_family="Ashcombe",
    carer_phone="07700 900654",
    school_urn="199872",
    school_name="Cobblestone Lane Primary School",
    school_phone="0161 496 0411",
    school_email="office@cobblestone.sch.example",
    gp_ods="P84872",
    gp_name="Harebell Health Centre",
    gp_phone="0161 496 0422",
    practitioner="Ingrid Marchbanks",
    practitioner_phone="0161 496 0433",
    practitioner_email="ingrid.marchbanks@familyhub.example",
    service_organisation="Cobblestone Family Hub",
)
HIDDEN_VALUES = HIDDEN.values()


def _reference(where: Whereabouts, la: LocalAuthority) -> None:
    School.objects.get_or_create(
        urn=where.school_urn,
        defaults={
            "name": where.school_name,
            "phase": SchoolPhase.PRIMARY,
            "local_authority": la,
            "postcode": "M20 6SX",
            "phone": where.school_phone,
            "email": where.school_email,
        },
    )
    GpPractice.objects.get_or_create(
        ods_code=where.gp_ods,
        defaults={
            "name": where.gp_name,
            "local_authority": la,
            "postcode": "M14 6TZ",
            "phone": where.gp_phone,
        },
    )


def make_child(
    where: Whereabouts,
    *,
    given: str,
    family: str,
    born: dt.date,
    la: str = MANCHESTER,
    shielded: bool = False,
    source_record_id: str = "",
) -> Child:
    """A child with these names and every location detail of `where`."""
    authority = LocalAuthority.objects.get(ons_code=la)
    _reference(where, authority)
    today = timezone.localdate()
    record = child_record(
        source=SourceRef(
            source_system="manchester-education",
            source_record_id=source_record_id or f"T-{given}-{family}"[:64],
            received_at=timezone.now(),
        ),
        names=(NameRecord(given_names=given, family_name=family),),
        date_of_birth=born,
        responsible_la_ons_code=la,
        is_shielded=shielded,
        addresses=(
            AddressRecord(line_1=where.line_1, town=where.town, postcode=where.postcode),
            AddressRecord(
                line_1=where.previous_line_1,
                town=where.town,
                postcode=where.previous_postcode,
                kind=AddressKind.PREVIOUS,
                from_date=born,
                to_date=born + dt.timedelta(days=700),
            ),
        ),
        carers=(
            CarerRecord(
                given_names=where.carer_given,
                family_name=where.carer_family,
                relationship=CarerRelationship.MOTHER,
                has_parental_responsibility=True,
                phones=(where.carer_phone,),
            ),
        ),
        enrolments=(
            EnrolmentRecord(school_urn=where.school_urn, started_on=today - dt.timedelta(days=300)),
        ),
        gp_registrations=(
            GpRegistrationRecord(
                practice_ods_code=where.gp_ods, registered_on=today - dt.timedelta(days=600)
            ),
        ),
        involvements=(
            InvolvementRecord(
                service_type=ServiceType.SOCIAL_WORKER,
                organisation_name=where.service_organisation,
                practitioner_name=where.practitioner,
                practitioner_role="Social worker",
                phone=where.practitioner_phone,
                secure_email=where.practitioner_email,
                started_on=today - dt.timedelta(days=200),
                is_lead_professional=True,
            ),
        ),
    )
    return create_child(record=record)


def born_years_ago(years: int, month: int = 5, day: int = 9) -> dt.date:
    today = timezone.localdate()
    return dt.date(today.year - years, month, day)


def make_hidden_child(*, shielded: bool = True, la: str = MANCHESTER) -> Child:
    """Niamh Calloway, 8, whose whereabouts are HIDDEN."""
    return make_child(
        HIDDEN, given="Niamh", family="Calloway", born=born_years_ago(8), la=la, shielded=shielded
    )


def make_visible_child() -> Child:
    """Tobias Penhaligon, 9, unshielded, whose whereabouts are VISIBLE."""
    return make_child(VISIBLE, given="Tobias", family="Penhaligon", born=born_years_ago(9, 2, 17))


def organisation_of(la: str) -> Organisation:
    return Organisation.objects.get(kind="local_authority", local_authority__ons_code=la)


def person(make_person: Callable[..., User], role: str, *, la: str = MANCHESTER, **kw: Any) -> User:
    """A fully gated person of this role in this LA's organisation (or the national team)."""
    if role == Role.NATIONAL_TEAM:
        return make_person(role=role, organisation=Organisation.objects.get(code="national-team"))
    return make_person(role=role, organisation=organisation_of(la), **kw)


def web_client(user: User) -> Client:
    client = sign_in_client(Client(), user)
    session = client.session
    session[PURPOSE_SESSION_KEY] = {"reason": PURPOSE, "other": ""}
    session.save()
    return client


def api_client(user: User) -> Client:
    issued = access_services.issue_api_token(user=user, ip_address=None)
    issued.token.purpose = PURPOSE
    issued.token.save()
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
