"""Record states and people for the view-policy matrix: one realistic child, varied."""

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
from contactpoint.access.vocabularies import OrganisationKind, OrganisationStatus
from contactpoint.index.models import Child, GpPractice, LocalAuthority, School
from contactpoint.index.records import (
    AddressRecord,
    CarerRecord,
    EnrolmentRecord,
    GpRegistrationRecord,
)
from contactpoint.index.services import create_child
from contactpoint.index.vocabularies import (
    CarerRelationship,
    ChildStatus,
    SchoolPhase,
    Whereabouts,
)

MANCHESTER = "E08000003"
BOLTON = "E08000001"
CAMHS = "Manchester CAMHS"
PURPOSE = "safeguarding_concern"

STATES = (
    "ordinary",
    "sensitive_service",
    "shielded",
    "shielded_other_la",
    "archived_recent",
    "archived_old",
    "deceased",
    "left_england",
    "other_la",
)
# The roles of access.roles, plus a practitioner who works for the child's sensitive service.
ROLES = (*Role.values, "sensitive_service_practitioner")


def _reference() -> tuple[School, GpPractice]:
    manchester = LocalAuthority.objects.get(ons_code=MANCHESTER)
    school, _ = School.objects.get_or_create(
        urn="105432",
        defaults={
            "name": "Ladybarn Primary School",
            "phase": SchoolPhase.PRIMARY,
            "local_authority": manchester,
            "postcode": "M20 6SX",
            "phone": "0161 445 1234",
            "email": "office@ladybarn.sch.example",
        },
    )
    practice, _ = GpPractice.objects.get_or_create(
        ods_code="P84999",
        defaults={
            "name": "Wilmslow Road Medical Centre",
            "local_authority": manchester,
            "postcode": "M14 6TZ",
            "phone": "0161 224 5678",
        },
    )
    return school, practice


def make_child_in_state(state: str) -> Child:
    """Amelia O'Neill (tests.index.records) with a school, a GP and, per state, more or less."""
    school, practice = _reference()
    today = timezone.localdate()
    base = child_record()
    senco, camhs = base.involvements
    involvements = (dataclasses.replace(senco, caf_assessment_on=today - dt.timedelta(days=200)),)
    if state in {"sensitive_service", "shielded", "shielded_other_la"}:
        involvements += (dataclasses.replace(camhs, organisation_name=CAMHS),)
    changes: dict[str, Any] = {
        "addresses": (
            AddressRecord(line_1="14 Victoria Road", town="Fallowfield", postcode="M14 5AB"),
        ),
        "carers": (
            CarerRecord(
                given_names="Sarah",
                family_name="O'Neill",
                relationship=CarerRelationship.MOTHER,
                has_parental_responsibility=True,
                phones=("07700 900123",),
            ),
        ),
        "enrolments": (
            EnrolmentRecord(school_urn=school.urn, started_on=today - dt.timedelta(days=400)),
        ),
        "gp_registrations": (
            GpRegistrationRecord(
                practice_ods_code=practice.ods_code, registered_on=today - dt.timedelta(days=900)
            ),
        ),
        "involvements": involvements,
    }
    if state in {"shielded", "shielded_other_la"}:
        changes["is_shielded"] = True
    if state in {"shielded_other_la", "other_la"}:
        changes["responsible_la_ons_code"] = BOLTON
    if state in {"archived_recent", "archived_old"}:
        changes["status"] = ChildStatus.ARCHIVED
        changes["archived_on"] = today - dt.timedelta(
            days=100 if state == "archived_recent" else 400
        )
    if state == "deceased":
        changes["status"] = ChildStatus.DECEASED
        changes["died_on"] = today - dt.timedelta(days=30)
    if state == "left_england":
        changes["status"] = ChildStatus.LEFT_ENGLAND
        changes["whereabouts"] = Whereabouts.LEFT_ENGLAND
        changes["left_england_on"] = today - dt.timedelta(days=60)
    return create_child(record=dataclasses.replace(base, **changes))


def camhs_organisation() -> Organisation:
    """The sensitive service, an employer registered with Manchester."""
    organisation, _ = Organisation.objects.get_or_create(
        code="manchester-camhs",
        defaults={
            "name": CAMHS,
            "kind": OrganisationKind.EMPLOYER,
            "local_authority": LocalAuthority.objects.get(ons_code=MANCHESTER),
            "status": OrganisationStatus.LIVE_PILOT,
        },
    )
    return organisation


def make_person_for(role: str, make_person: Callable[..., User]) -> User:
    """A fully gated person of this role, in Manchester (or the national team, or CAMHS)."""
    if role == Role.NATIONAL_TEAM:
        return make_person(role=role, organisation=Organisation.objects.get(code="national-team"))
    if role == "sensitive_service_practitioner":
        return make_person(role=Role.PRACTITIONER, organisation=camhs_organisation())
    return make_person(role=role)


def web_client(person: User) -> Client:
    client = sign_in_client(Client(), person)
    session = client.session
    session[PURPOSE_SESSION_KEY] = {"reason": PURPOSE, "other": ""}
    session.save()
    return client


def api_client(person: User) -> Client:
    issued = access_services.issue_api_token(user=person, ip_address=None)
    issued.token.purpose = PURPOSE
    issued.token.save()
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
