"""The one view policy: what a given viewer may see of a given child (CONVENTIONS 4).

Web pages, the API and every report call `project_child` or `project_search_result` and
render only what they return; nothing else turns a child into something a person sees.

Everything the policy can show is declared once, in FIELD_CLASSES: each class of fields, the
projection attribute that carries it, and in which view mode (and on which condition) it is
shown. Tests enumerate that table, so a new class of fields is covered by the role x record
state x channel matrix automatically.

The rules (DESIGN.md; issue 4):
- a role without the view capability sees no child at all;
- archived records are invisible except to the responsible LA's data-quality officers for a year
  after archiving and to the national team (DESIGN: lifecycle);
- a shielded record shows only name, gender, date of birth and ContactPoint ID, with "contact
  the LA's ContactPoint team" and that team's contacts, except to the responsible LA's shielding
  officers and the national team, who see everything (DESIGN: shielding; regulation 6(5));
  carers, like every other location detail, are hidden whenever the restricted view applies;
- a sensitive service (sexual health, mental health, substance misuse) shows as a marker only;
  its details are shown only to that service itself;
- deceased and left-England records are shown, marked as such.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from django.utils import timezone

from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Capability, Role, role_has
from contactpoint.access.vocabularies import OrganisationKind
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.index.models import Child, ChildName, Involvement, LocalAuthority
from contactpoint.index.vocabularies import (
    SENSITIVE_SERVICE_TYPES,
    AddressKind,
    CarerRelationship,
    ChildStatus,
    Gender,
    NameKind,
    OtherService,
    ReturnIntention,
    ServiceType,
    Whereabouts,
)

SENSITIVE_SERVICE_MESSAGE = (
    "A sensitive service is involved with this child. Contact the ContactPoint team of the "
    "child's local authority if you need to reach it."
)
SHIELDED_MESSAGE = (
    "This record is shielded. Contact the local authority's ContactPoint team if you need to "
    "reach the people working with this child."
)

# The relations project_child reads; selectors load them in one go (no query per field).
PROJECTION_SELECT_RELATED: tuple[str, ...] = ("responsible_la",)
PROJECTION_PREFETCH_RELATED: tuple[str, ...] = (
    "names",
    "addresses",
    "carers",
    "enrolments__school",
    "gp_registrations__practice",
    "involvements",
)


# --- Who is looking ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person looking, reduced to what the policy needs (see viewer_for)."""

    role: str
    user_id: int | None = None
    username: str = ""
    organisation_id: int | None = None
    organisation_code: str = ""
    organisation_name: str = ""
    local_authority_id: int | None = None
    # The service types the viewer's organisation provides, if recorded; used to recognise
    # "that service itself" for a sensitive service.
    service_types: frozenset[str] = frozenset()


class ChildState(Protocol):
    """The few facts about a child that decide whether, and how, a viewer may see it."""

    status: str
    archived_on: dt.date | None
    is_shielded: bool
    responsible_la_id: int


class ViewMode(StrEnum):
    FULL = "full"
    RESTRICTED = "restricted"  # a shielded record seen by anyone but its officers


class Scope(StrEnum):
    OWN_LA = "own_la"  # only children whose responsible LA is the viewer's LA
    NATIONAL = "national"  # every child


# Who sees a shielded record whole (DESIGN: "two trained officials per LA manage shielding").
SHIELDED_FULL_VIEW: dict[str, Scope] = {
    Role.SHIELDING_OFFICER: Scope.OWN_LA,
    Role.NATIONAL_TEAM: Scope.NATIONAL,
}


@dataclass(frozen=True)
class ArchivedAccess:
    scope: Scope
    for_days: int | None  # after archiving; None: until the record is deleted


# DESIGN lifecycle: "visible to the LA's data managers for one year, then only to the national
# team"; practitioners never see an archived record.
ARCHIVED_VIEW: dict[str, ArchivedAccess] = {
    Role.DATA_QUALITY_OFFICER: ArchivedAccess(Scope.OWN_LA, for_days=365),
    Role.NATIONAL_TEAM: ArchivedAccess(Scope.NATIONAL, for_days=None),
}


def _in_scope(scope: Scope, viewer: Viewer, child: ChildState) -> bool:
    if scope is Scope.NATIONAL:
        return True
    return viewer.local_authority_id is not None and (
        viewer.local_authority_id == child.responsible_la_id
    )


def view_mode(
    viewer: Viewer, child: ChildState, *, today: dt.date | None = None
) -> ViewMode | None:
    """How this viewer may see this child: whole, restricted, or not at all (None)."""
    if not role_has(viewer.role, Capability.VIEW_CHILD):
        return None
    if child.status == ChildStatus.ARCHIVED:
        access = ARCHIVED_VIEW.get(viewer.role)
        if access is None or not _in_scope(access.scope, viewer, child):
            return None
        if access.for_days is not None:
            today = today or timezone.localdate()
            archived_on = child.archived_on or today
            if today > archived_on + dt.timedelta(days=access.for_days):
                return None
    if child.is_shielded:
        scope = SHIELDED_FULL_VIEW.get(viewer.role)
        if scope is None or not _in_scope(scope, viewer, child):
            return ViewMode.RESTRICTED
    return ViewMode.FULL


# --- The field table -----------------------------------------------------------------------------


class FieldClass(StrEnum):
    """A class of fields shown together; the value is the ChildProjection attribute."""

    IDENTITY = "identity"
    STATUS = "status"
    OTHER_NAMES = "other_names"
    RESPONSIBLE_LA = "responsible_la"
    ADDRESSES = "addresses"
    CARERS = "carers"
    SCHOOL = "school"
    GP_PRACTICE = "gp_practice"
    INVOLVEMENTS = "involvements"
    ASSESSMENT_INDICATOR = "assessment_indicator"
    SENSITIVE_SERVICE_MARKER = "sensitive_service_marker"
    SENSITIVE_SERVICE_DETAILS = "sensitive_service_details"
    SHIELDED_NOTICE = "shielded_notice"


class Condition(StrEnum):
    """An extra condition on showing a class, beyond the view mode."""

    ALWAYS = "always"
    SENSITIVE_SERVICE_OF_OTHERS = "sensitive_service_of_others"
    VIEWER_IS_SENSITIVE_SERVICE = "viewer_is_sensitive_service"


FULL_ONLY = frozenset({ViewMode.FULL})
RESTRICTED_ONLY = frozenset({ViewMode.RESTRICTED})
EVERY_MODE = frozenset({ViewMode.FULL, ViewMode.RESTRICTED})


@dataclass(frozen=True)
class FieldClassRule:
    field_class: FieldClass
    label: str
    modes: frozenset[ViewMode]
    condition: Condition = Condition.ALWAYS


FIELD_CLASSES: tuple[FieldClassRule, ...] = (
    FieldClassRule(
        FieldClass.IDENTITY, "Name, gender, date of birth and ContactPoint ID", EVERY_MODE
    ),
    # Status and every location detail below disappear under shielding (DESIGN: shielding).
    FieldClassRule(FieldClass.STATUS, "Record status", FULL_ONLY),
    FieldClassRule(FieldClass.OTHER_NAMES, "Former names and aliases", FULL_ONLY),
    FieldClassRule(FieldClass.RESPONSIBLE_LA, "Responsible local authority", FULL_ONLY),
    FieldClassRule(FieldClass.ADDRESSES, "Addresses", FULL_ONLY),
    FieldClassRule(FieldClass.CARERS, "Parents and carers", FULL_ONLY),
    FieldClassRule(FieldClass.SCHOOL, "Educational setting", FULL_ONLY),
    FieldClassRule(FieldClass.GP_PRACTICE, "GP practice", FULL_ONLY),
    FieldClassRule(FieldClass.INVOLVEMENTS, "Services and practitioners involved", FULL_ONLY),
    FieldClassRule(FieldClass.ASSESSMENT_INDICATOR, "Common Assessment Framework", FULL_ONLY),
    FieldClassRule(
        FieldClass.SENSITIVE_SERVICE_MARKER,
        "Sensitive service involved",
        FULL_ONLY,
        Condition.SENSITIVE_SERVICE_OF_OTHERS,
    ),
    FieldClassRule(
        FieldClass.SENSITIVE_SERVICE_DETAILS,
        "Your sensitive service's involvement",
        FULL_ONLY,
        Condition.VIEWER_IS_SENSITIVE_SERVICE,
    ),
    FieldClassRule(FieldClass.SHIELDED_NOTICE, "Shielded record", RESTRICTED_ONLY),
)
FIELD_CLASS_RULES: dict[FieldClass, FieldClassRule] = {r.field_class: r for r in FIELD_CLASSES}


# --- The projection ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    contactpoint_id: str
    display_id: str
    given_names: str
    family_name: str
    gender: str
    gender_label: str
    date_of_birth: dt.date


@dataclass(frozen=True, slots=True)
class StatusView:
    status: str
    status_label: str
    whereabouts: str
    whereabouts_label: str
    died_on: dt.date | None
    left_england_on: dt.date | None
    intends_to_return: str  # '' unless the child has left England
    archived_on: dt.date | None
    is_shielded: bool


@dataclass(frozen=True, slots=True)
class NameView:
    given_names: str
    family_name: str
    kind: str
    kind_label: str


@dataclass(frozen=True, slots=True)
class LocalAuthorityView:
    ons_code: str
    name: str


@dataclass(frozen=True, slots=True)
class AddressView:
    kind: str
    kind_label: str
    line_1: str
    line_2: str
    town: str
    postcode: str
    from_date: dt.date | None
    to_date: dt.date | None


@dataclass(frozen=True, slots=True)
class CarerView:
    given_names: str
    family_name: str
    relationship: str
    relationship_label: str
    has_parental_responsibility: bool
    lives_with_child: bool
    line_1: str
    line_2: str
    town: str
    postcode: str
    phones: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SchoolView:
    urn: str
    name: str
    phone: str
    email: str
    started_on: dt.date


@dataclass(frozen=True, slots=True)
class GpPracticeView:
    ods_code: str
    name: str
    phone: str
    registered_on: dt.date


@dataclass(frozen=True, slots=True)
class InvolvementView:
    service_type: str
    service_label: str
    organisation_name: str
    practitioner_name: str
    practitioner_role: str
    phone: str
    secure_email: str
    started_on: dt.date
    ended_on: dt.date | None
    is_lead_professional: bool


@dataclass(frozen=True, slots=True)
class AssessmentIndicator:
    """That a CAF assessment exists, when, and who holds it: never its contents."""

    exists: bool
    assessed_on: dt.date | None
    held_by: str


@dataclass(frozen=True, slots=True)
class TeamContact:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class ContactTeam:
    name: str
    contacts: tuple[TeamContact, ...]


@dataclass(frozen=True, slots=True)
class ShieldedNotice:
    message: str
    team: ContactTeam


@dataclass(frozen=True, slots=True)
class ChildProjection:
    """What one viewer may see of one child; a hidden class of fields is None."""

    mode: ViewMode
    field_classes: frozenset[FieldClass]
    identity: Identity
    status: StatusView | None = None
    other_names: tuple[NameView, ...] | None = None
    responsible_la: LocalAuthorityView | None = None
    addresses: tuple[AddressView, ...] | None = None
    carers: tuple[CarerView, ...] | None = None
    school: tuple[SchoolView, ...] | None = None
    gp_practice: tuple[GpPracticeView, ...] | None = None
    involvements: tuple[InvolvementView, ...] | None = None
    assessment_indicator: AssessmentIndicator | None = None
    sensitive_service_marker: str | None = None
    sensitive_service_details: tuple[InvolvementView, ...] | None = None
    shielded_notice: ShieldedNotice | None = None

    @property
    def shown(self) -> list[str]:
        """The classes shown, sorted: what the audit event records."""
        return sorted(str(c) for c in self.field_classes)


@dataclass(frozen=True, slots=True)
class BreakGlassReveal:
    """A break-glass grant being spent on one view (issue 7), made by shielding.services.

    The shielding app consumes the grant, alerts the LA's officers and audits the view in the
    same transaction; the policy only checks that the reveal is this viewer's, for this child,
    and that their role may break the glass. It never widens anything but a shielded record.
    """

    grant_id: int
    user_id: int
    contactpoint_id: str


def reveal_applies(reveal: BreakGlassReveal | None, viewer: Viewer, child: Child) -> bool:
    """Whether a break-glass reveal lifts the shield for this viewer and this child."""
    return (
        reveal is not None
        and child.is_shielded
        and role_has(viewer.role, Capability.BREAK_GLASS)
        and viewer.user_id is not None
        and reveal.user_id == viewer.user_id
        and reveal.contactpoint_id == child.contactpoint_id
    )


class PurposeRequired(ValueError):
    """A child may be seen only for a stated reason for access."""


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _normalised_organisation(name: str) -> str:
    return " ".join(name.casefold().split())


def is_the_service(viewer: Viewer, involvement: Involvement) -> bool:
    """Whether the viewer works for the service recorded in this involvement.

    Involvements name their organisation as text (index has no organisation link yet), so
    the viewer's organisation name must match it; recorded service types narrow it further.
    """
    if not viewer.organisation_name:
        return False
    if viewer.service_types and involvement.service_type not in viewer.service_types:
        return False
    return _normalised_organisation(viewer.organisation_name) == _normalised_organisation(
        involvement.organisation_name
    )


def _involvement_view(involvement: Involvement) -> InvolvementView:
    if involvement.service_type == ServiceType.OTHER:
        label = _label(OtherService, involvement.other_service)
    else:
        label = _label(ServiceType, involvement.service_type)
    return InvolvementView(
        service_type=involvement.service_type,
        service_label=label,
        organisation_name=involvement.organisation_name,
        practitioner_name=involvement.practitioner_name,
        practitioner_role=involvement.practitioner_role,
        phone=involvement.phone,
        secure_email=involvement.secure_email,
        started_on=involvement.started_on,
        ended_on=involvement.ended_on,
        is_lead_professional=involvement.is_lead_professional,
    )


def _is_current(ended_on: dt.date | None, today: dt.date) -> bool:
    return ended_on is None or ended_on > today


@dataclass
class _Parts:
    """The child's related rows, read once from the prefetch cache."""

    names: list[ChildName]
    involvements: list[Involvement]
    sensitive: list[Involvement]
    own_sensitive: list[Involvement]


def has_current_sensitive_service(child: Child, today: dt.date | None = None) -> bool:
    """Whether a current involvement of the child is a sensitive service (from the prefetch).

    The same test as protective monitoring's facts query, which makes it in SQL.
    """
    today = today or timezone.localdate()
    return any(
        i.service_type in SENSITIVE_SERVICE_TYPES and _is_current(i.ended_on, today)
        for i in child.involvements.all()
    )


def _parts(viewer: Viewer, child: Child, today: dt.date) -> _Parts:
    involvements = list(child.involvements.all())
    sensitive = [
        i
        for i in involvements
        if i.service_type in SENSITIVE_SERVICE_TYPES and _is_current(i.ended_on, today)
    ]
    return _Parts(
        names=list(child.names.all()),
        involvements=[i for i in involvements if i.service_type not in SENSITIVE_SERVICE_TYPES],
        sensitive=sensitive,
        own_sensitive=[i for i in sensitive if is_the_service(viewer, i)],
    )


def _condition_holds(condition: Condition, parts: _Parts) -> bool:
    if condition is Condition.SENSITIVE_SERVICE_OF_OTHERS:
        return len(parts.sensitive) > len(parts.own_sensitive)
    if condition is Condition.VIEWER_IS_SENSITIVE_SERVICE:
        return bool(parts.own_sensitive)
    return True


def _visible_field_classes(mode: ViewMode, parts: _Parts) -> frozenset[FieldClass]:
    return frozenset(
        rule.field_class
        for rule in FIELD_CLASSES
        if mode in rule.modes and _condition_holds(rule.condition, parts)
    )


def _identity(child: Child, current: ChildName | None) -> Identity:
    return Identity(
        contactpoint_id=child.contactpoint_id,
        display_id=cp_id.display(child.contactpoint_id),
        given_names=current.given_names if current else "",
        family_name=current.family_name if current else "",
        gender=child.gender,
        gender_label=_label(Gender, child.gender),
        date_of_birth=child.date_of_birth,
    )


def _status(child: Child) -> StatusView:
    return StatusView(
        status=child.status,
        status_label=_label(ChildStatus, child.status),
        whereabouts=child.whereabouts,
        whereabouts_label=_label(Whereabouts, child.whereabouts),
        died_on=child.died_on,
        left_england_on=child.left_england_on,
        intends_to_return=(
            _label(ReturnIntention, child.left_england_intends_return)
            if child.left_england_intends_return
            else ""
        ),
        archived_on=child.archived_on,
        is_shielded=child.is_shielded,
    )


def _assessment(involvements: list[Involvement]) -> AssessmentIndicator:
    holding = sorted(
        (i for i in involvements if i.holds_caf_assessment),
        key=lambda i: i.caf_assessment_on or dt.date.min,
        reverse=True,
    )
    if not holding:
        return AssessmentIndicator(exists=False, assessed_on=None, held_by="")
    latest = holding[0]
    held_by = ", ".join(p for p in (latest.practitioner_name, latest.organisation_name) if p)
    return AssessmentIndicator(exists=True, assessed_on=latest.caf_assessment_on, held_by=held_by)


def _builders(
    child: Child, parts: _Parts, today: dt.date, team: Callable[[int], ContactTeam]
) -> dict[FieldClass, Callable[[], Any]]:
    """How to build each class; only the visible ones are ever called."""
    by_address_order: dict[str, int] = {
        AddressKind.CURRENT: 0,
        AddressKind.LAST_KNOWN: 1,
        AddressKind.PREVIOUS: 2,
    }
    return {
        FieldClass.STATUS: lambda: _status(child),
        FieldClass.OTHER_NAMES: lambda: tuple(
            NameView(n.given_names, n.family_name, n.kind, _label(NameKind, n.kind))
            for n in parts.names
            if n.kind != NameKind.CURRENT
        ),
        FieldClass.RESPONSIBLE_LA: lambda: LocalAuthorityView(
            child.responsible_la.ons_code, child.responsible_la.name
        ),
        FieldClass.ADDRESSES: lambda: tuple(
            AddressView(
                a.kind,
                _label(AddressKind, a.kind),
                a.line_1,
                a.line_2,
                a.town,
                a.postcode,
                a.from_date,
                a.to_date,
            )
            for a in sorted(
                child.addresses.all(),
                key=lambda a: (
                    by_address_order.get(a.kind, 3),
                    -(a.from_date or dt.date.min).toordinal(),
                ),
            )
        ),
        FieldClass.CARERS: lambda: tuple(
            CarerView(
                c.given_names,
                c.family_name,
                c.relationship,
                _label(CarerRelationship, c.relationship),
                c.has_parental_responsibility,
                c.lives_with_child,
                c.line_1,
                c.line_2,
                c.town,
                c.postcode,
                tuple(p for p in (c.phone_1, c.phone_2, c.phone_3) if p),
            )
            for c in child.carers.all()
        ),
        FieldClass.SCHOOL: lambda: tuple(
            SchoolView(e.school.urn, e.school.name, e.school.phone, e.school.email, e.started_on)
            for e in child.enrolments.all()
            if _is_current(e.ended_on, today)
        ),
        FieldClass.GP_PRACTICE: lambda: tuple(
            GpPracticeView(r.practice.ods_code, r.practice.name, r.practice.phone, r.registered_on)
            for r in child.gp_registrations.all()
            if _is_current(r.ended_on, today)
        ),
        FieldClass.INVOLVEMENTS: lambda: tuple(
            _involvement_view(i)
            for i in sorted(
                parts.involvements,
                key=lambda i: (not _is_current(i.ended_on, today), not i.is_lead_professional),
            )
        ),
        FieldClass.ASSESSMENT_INDICATOR: lambda: _assessment(parts.involvements),
        FieldClass.SENSITIVE_SERVICE_MARKER: lambda: SENSITIVE_SERVICE_MESSAGE,
        FieldClass.SENSITIVE_SERVICE_DETAILS: lambda: tuple(
            _involvement_view(i) for i in parts.own_sensitive
        ),
        FieldClass.SHIELDED_NOTICE: lambda: ShieldedNotice(
            SHIELDED_MESSAGE, team(child.responsible_la_id)
        ),
    }


def project_child(
    *,
    viewer: Viewer,
    child: Child,
    purpose: str,
    today: dt.date | None = None,
    contact_team: Callable[[int], ContactTeam] | None = None,
    reveal: BreakGlassReveal | None = None,
) -> ChildProjection | None:
    """What this viewer may see of this child, or None when they may not know it exists.

    `child` should be loaded with PROJECTION_SELECT_RELATED and PROJECTION_PREFETCH_RELATED.
    A stated reason for access is required (DESIGN: every view has a purpose). `reveal`, a
    break-glass grant being spent, shows a shielded record whole to that one viewer; it
    changes nothing else (archived, sensitive-service and role rules still apply).
    """
    if not purpose.strip():
        raise PurposeRequired("a child's record is shown only for a stated reason for access")
    today = today or timezone.localdate()
    mode = view_mode(viewer, child, today=today)
    if mode is None:
        return None
    if mode is ViewMode.RESTRICTED and reveal_applies(reveal, viewer, child):
        mode = ViewMode.FULL
    parts = _parts(viewer, child, today)
    current = next((n for n in parts.names if n.kind == NameKind.CURRENT), None)
    shown = _visible_field_classes(mode, parts)
    builders = _builders(child, parts, today, contact_team or la_contactpoint_team)
    values = {
        str(field_class): builders[field_class]()
        for field_class in shown
        if field_class is not FieldClass.IDENTITY
    }
    return ChildProjection(
        mode=mode, field_classes=shown, identity=_identity(child, current), **values
    )


# --- Search result rows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResultRow:
    """One line of search results: never the full address, and less when shielded."""

    contactpoint_id: str
    display_id: str
    given_names: str
    family_name: str
    gender: str
    gender_label: str
    date_of_birth: dt.date
    postcode_district: str | None  # None under the restricted (shielded) view
    status_label: str | None  # "Deceased", "Left England"...; None under the restricted view
    band: str
    restricted: bool


def search_mode(
    viewer: Viewer, child: ChildState, *, hidden_field_search: bool, today: dt.date | None = None
) -> ViewMode | None:
    """Whether a child may appear in this viewer's search results, and how.

    A search that used a hidden field (postcode, address, local authority, school, GP) never
    returns a shielded child, for anyone: the ContactPoint and NHS S-flag rule, since a match
    on a hidden field would itself disclose where the child is.
    """
    if not role_has(viewer.role, Capability.SEARCH_CHILDREN):
        return None
    if hidden_field_search and child.is_shielded:
        return None
    return view_mode(viewer, child, today=today)


def project_search_result(
    *,
    viewer: Viewer,
    child: Child,
    current_name: ChildName,
    postcode_district: str,
    band: str,
    hidden_field_search: bool,
    today: dt.date | None = None,
) -> SearchResultRow | None:
    """The result row this viewer may see for a matched child, or None to leave it out."""
    mode = search_mode(viewer, child, hidden_field_search=hidden_field_search, today=today)
    if mode is None:
        return None
    restricted = mode is ViewMode.RESTRICTED
    status_label = None
    if not restricted and child.status != ChildStatus.ACTIVE:
        status_label = _label(ChildStatus, child.status)
    return SearchResultRow(
        contactpoint_id=child.contactpoint_id,
        display_id=cp_id.display(child.contactpoint_id),
        given_names=current_name.given_names,
        family_name=current_name.family_name,
        gender=child.gender,
        gender_label=_label(Gender, child.gender),
        date_of_birth=child.date_of_birth,
        postcode_district=None if restricted else (postcode_district or ""),
        status_label=status_label,
        band=band,
        restricted=restricted,
    )


# --- Adaptors to the accounts model --------------------------------------------------------------


def la_contactpoint_team(local_authority_id: int) -> ContactTeam:
    """The LA's ContactPoint team: its live shielding officers, named with their work email."""
    organisation = Organisation.objects.filter(
        kind=OrganisationKind.LOCAL_AUTHORITY, local_authority_id=local_authority_id
    ).first()
    if organisation is None:
        authority = LocalAuthority.objects.filter(pk=local_authority_id).first()
        name = authority.name if authority else "the local authority"
        return ContactTeam(name=f"{name} ContactPoint team", contacts=())
    officers = User.objects.filter(
        organisation=organisation,
        role=Role.SHIELDING_OFFICER,
        is_active=True,
        suspended_at__isnull=True,
    ).order_by("last_name", "first_name")
    return ContactTeam(
        name=f"{organisation.name} ContactPoint team",
        contacts=tuple(
            TeamContact(name=o.get_full_name() or o.get_username(), email=o.email) for o in officers
        ),
    )


def viewer_for(user: Any) -> Viewer:
    """The policy's view of an accounts User (role, organisation and its local authority)."""
    organisation = getattr(user, "organisation", None)
    return Viewer(
        role=str(getattr(user, "role", "")),
        user_id=getattr(user, "pk", None),
        username=user.get_username() if hasattr(user, "get_username") else "",
        organisation_id=organisation.pk if organisation is not None else None,
        organisation_code=organisation.code if organisation is not None else "",
        organisation_name=organisation.name if organisation is not None else "",
        local_authority_id=organisation.local_authority_id if organisation is not None else None,
    )
