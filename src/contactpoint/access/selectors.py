"""Reads for the access app: who may manage whom, account status, the reason for access."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactpoint.access.gates import GateName, Refusal, account_refusals
from contactpoint.access.models import ApiToken, Organisation, User
from contactpoint.access.roles import Capability, Role, role_has
from contactpoint.access.vocabularies import (
    ROLES_BY_KIND,
    STATUS_TRANSITIONS,
    AccessReason,
    OrganisationKind,
    OrganisationStatus,
)

PURPOSE_SESSION_KEY = "access.purpose"


# --- Reason for access --------------------------------------------------------------------------


def describe_purpose(reason: str, other: str = "") -> str:
    """The text recorded on audit events: the reason's code, and the words given for 'other'."""
    if not reason:
        return ""
    return f"{reason}: {other}" if reason == AccessReason.OTHER and other else reason


def get_request_purpose(request: HttpRequest | Any) -> str:
    """The reason for access stated for this request ('' if none), for every audit event.

    API requests carry it on their token; web requests in the session.
    """
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        return describe_purpose(token.purpose, token.purpose_other)
    session = getattr(request, "session", None)
    stated = session.get(PURPOSE_SESSION_KEY) if session is not None else None
    if not isinstance(stated, dict):
        return ""
    return describe_purpose(str(stated.get("reason", "")), str(stated.get("other", "")))


# The name the rest of the project uses when recording a search or view.
get_session_purpose = get_request_purpose


def has_stated_purpose(request: HttpRequest | Any) -> bool:
    return get_request_purpose(request) != ""


# --- Second factor ------------------------------------------------------------------------------


def get_confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_confirmed_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


# --- Account status -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GateStatus:
    gate: GateName
    label: str
    passed: bool
    message: str = ""


_GATE_LABELS: dict[GateName, str] = {
    GateName.ACCOUNT_ACTIVE: "Account open",
    GateName.NOT_SUSPENDED: "Not suspended",
    GateName.ORGANISATION_LIVE: "Organisation live on ContactPoint",
    GateName.VETTING_RECORDED: "Enhanced vetting check recorded",
    GateName.VETTING_CURRENT: "Vetting check less than 3 years old",
    GateName.TRAINING_COMPLETED: "ContactPoint training completed",
    GateName.SHIELDING_TRAINING_COMPLETED: "Shielding training completed",
    GateName.AGREEMENT_SIGNED: "User agreement signed",
    GateName.AUTHORISED: "Authorised by the organisation",
}


def get_gate_statuses(user: User, *, today: dt.date | None = None) -> list[GateStatus]:
    """Every account gate with whether this person passes it, for account pages."""
    failed: dict[GateName, Refusal] = {r.gate: r for r in account_refusals(user, today=today)}
    statuses = []
    for gate, label in _GATE_LABELS.items():
        if gate is GateName.SHIELDING_TRAINING_COMPLETED and user.role != Role.SHIELDING_OFFICER:
            continue
        refusal = failed.get(gate)
        statuses.append(
            GateStatus(gate, label, refusal is None, refusal.message if refusal else "")
        )
    return statuses


# --- Who manages whom ---------------------------------------------------------------------------


def manageable_organisations(actor: User) -> QuerySet[Organisation]:
    """Organisations whose people this administrator may manage.

    An LA administrator: their own LA and the employers registered with it. The national
    team: national partners and itself, and local authorities for their first administrator
    (issue 3: accounts are created by the LA, or by the national team for national partners).
    """
    organisation = actor.organisation
    if organisation is None or not role_has(actor.role, Capability.MANAGE_ACCOUNTS):
        return Organisation.objects.none()
    if actor.role == Role.NATIONAL_TEAM:
        return Organisation.objects.filter(
            kind__in=[
                OrganisationKind.NATIONAL_PARTNER,
                OrganisationKind.NATIONAL_TEAM,
                OrganisationKind.LOCAL_AUTHORITY,
            ]
        )
    if organisation.kind == OrganisationKind.LOCAL_AUTHORITY:
        return Organisation.objects.filter(
            Q(pk=organisation.pk)
            | Q(kind=OrganisationKind.EMPLOYER, local_authority=organisation.local_authority_id)
        )
    return Organisation.objects.filter(pk=organisation.pk)


def assignable_roles(actor: User, organisation: Organisation) -> list[str]:
    """Roles this administrator may give an account in this organisation."""
    if not manageable_organisations(actor).filter(pk=organisation.pk).exists():
        return []
    roles = list(ROLES_BY_KIND.get(organisation.kind, ()))
    if actor.role == Role.NATIONAL_TEAM and organisation.kind == OrganisationKind.LOCAL_AUTHORITY:
        return [Role.LA_ADMINISTRATOR]
    return roles


def people_managed_by(actor: User) -> QuerySet[User]:
    """The people this administrator may see and manage, never including themselves."""
    people = User.objects.filter(organisation__in=manageable_organisations(actor))
    if actor.role == Role.NATIONAL_TEAM:
        # In a local authority the national team manages only the administrators it set up.
        people = people.filter(
            ~Q(organisation__kind=OrganisationKind.LOCAL_AUTHORITY) | Q(role=Role.LA_ADMINISTRATOR)
        )
    return people.exclude(pk=actor.pk).select_related("organisation")


def find_managed_person(actor: User, person_id: int) -> User | None:
    """The person, if this administrator may manage them; None otherwise (shown as not found)."""
    return people_managed_by(actor).filter(pk=person_id).first()


def search_people(actor: User, *, text: str = "") -> QuerySet[User]:
    people = people_managed_by(actor)
    for word in text.split()[:4]:
        people = people.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
        )
    return people


# --- Organisations ------------------------------------------------------------------------------


def list_organisations(*, kind: str = "", status: str = "") -> QuerySet[Organisation]:
    organisations = Organisation.objects.select_related("local_authority")
    if kind:
        organisations = organisations.filter(kind=kind)
    if status:
        organisations = organisations.filter(status=status)
    return organisations


def get_organisation(code: str) -> Organisation | None:
    return Organisation.objects.filter(code=code).first()


def allowed_status_changes(organisation: Organisation) -> list[str]:
    """The statuses this organisation may move to next, in a stable order."""
    allowed = STATUS_TRANSITIONS.get(organisation.status, frozenset())
    return [value for value in OrganisationStatus.values if value in allowed]
