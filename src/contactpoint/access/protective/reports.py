"""Audit reports for security officers and the national team, themselves audited and limited.

- "Who has viewed this child": every audit event naming the child (record views, stopped or
  refused views, searches whose results listed the child, review-queue views, shielding
  decisions, alerts), for subject access requests and investigations. An LA's security
  officer sees every viewer of a child of their LA; any
  other organisation's security officer sees only their own people; the national team sees all.
- "What has this person done": a person's events, newest first, a page at a time.

Each report is a lookup: it passes the quota and monitoring hook (a security officer paging
through the log is limited like anyone else) and writes an audit event of its own. No page
names more children than a search may show: a page of a person's activity has at most the
search result cap of events, each naming at most one child, and a search's returned IDs are
shown one event at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Q, QuerySet

from contactpoint.access.models import Organisation, User
from contactpoint.access.policy import viewer_for
from contactpoint.access.protective.actions import SEARCH_ACTION, VIEW_ACTION, ProtectiveAction
from contactpoint.access.protective.monitoring import (
    LookupKind,
    LookupRefused,
    Verdict,
    enforce_and_monitor,
)
from contactpoint.access.roles import Role
from contactpoint.access.vocabularies import OrganisationKind
from contactpoint.audit.models import AuditEvent
from contactpoint.audit.selectors import events_about_child, events_by_actor
from contactpoint.audit.services import record_event
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.index.models import Child

# A search event in a child's report: the child was one of the results (not the search's subject).
LISTED_LABEL = "Shown in search results"
CHILD_REPORT_LIMIT = 500  # events listed for one child; the count says when there are more

ACTION_LABELS: dict[str, str] = {
    SEARCH_ACTION: "Searched",
    VIEW_ACTION: "Viewed the record",
    ProtectiveAction.ALERT_RAISED: "Alert raised",
    ProtectiveAction.REPORT_CHILD_VIEWERS: "Ran 'who has viewed this child'",
    ProtectiveAction.REPORT_PERSON_ACTIVITY: "Ran 'what has this person done'",
    ProtectiveAction.REPORT_EVENT: "Read an event in a report",
}


class ReportRefused(ValueError):
    """The report cannot be run as asked; the message says why, in plain words."""


class Scope(StrEnum):
    NATIONAL = "national"  # every event
    LOCAL_AUTHORITY = "local_authority"  # every viewer of the LA's children; the LA's people
    ORGANISATION = "organisation"  # the organisation's own people only


def report_scope(officer: User) -> Scope:
    organisation = officer.organisation
    if officer.role == Role.NATIONAL_TEAM or (
        organisation is not None and organisation.kind == OrganisationKind.NATIONAL_TEAM
    ):
        return Scope.NATIONAL
    if organisation is not None and organisation.kind == OrganisationKind.LOCAL_AUTHORITY:
        return Scope.LOCAL_AUTHORITY
    return Scope.ORGANISATION


def result_cap() -> int:
    """The search result cap (search.services reads the same setting): 1 to 50."""
    try:
        cap = int(getattr(settings, "CONTACTPOINT_SEARCH_RESULT_CAP", 10))
    except (TypeError, ValueError):
        cap = 10
    return max(1, min(cap, 50))


# --- Reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    """One audit event as a report shows it: never more than one child's ID."""

    sequence: int
    occurred_at: Any
    action: str
    label: str
    outcome: str
    username: str
    organisation_code: str
    purpose: str
    ip_address: str | None
    contactpoint_id: str
    criteria: dict[str, Any]
    returned_count: int

    @property
    def reference(self) -> str:
        """How a report links to one event: E1234 (its sequence in the chain)."""
        return f"E{self.sequence}"


def _row(event: AuditEvent, *, about: str = "") -> EventRow:
    """The event as a report row; `about` is the child a child report is on."""
    detail = event.detail if isinstance(event.detail, dict) else {}
    criteria = detail.get("criteria")
    returned = detail.get("returned")
    listed = (
        bool(about) and event.action == SEARCH_ACTION and event.subject_contactpoint_id != about
    )
    return EventRow(
        sequence=event.sequence,
        occurred_at=event.occurred_at,
        action=event.action,
        label=LISTED_LABEL if listed else ACTION_LABELS.get(event.action, event.action),
        outcome=event.outcome,
        username=event.actor_username,
        organisation_code=event.organisation_code,
        purpose=event.purpose,
        ip_address=event.ip_address,
        contactpoint_id=event.subject_contactpoint_id,
        criteria=criteria if isinstance(criteria, dict) else {},
        returned_count=len(returned) if isinstance(returned, list) else 0,
    )


def _organisation_codes(officer: User) -> list[str]:
    """The organisations whose people this officer reports on (an LA's include its employers)."""
    organisation = officer.organisation
    if organisation is None:
        return []
    codes = [organisation.code]
    if organisation.kind == OrganisationKind.LOCAL_AUTHORITY:
        codes += list(
            Organisation.objects.filter(
                kind=OrganisationKind.EMPLOYER, local_authority_id=organisation.local_authority_id
            ).values_list("code", flat=True)
        )
    return codes


def people_in_scope(officer: User) -> QuerySet[User]:
    if report_scope(officer) is Scope.NATIONAL:
        return User.objects.all()
    return User.objects.filter(organisation__code__in=_organisation_codes(officer))


def find_person(officer: User, *, username: str = "", person_id: int | None = None) -> User | None:
    """A person this officer may report on, or None (the same answer as a person not there)."""
    people = people_in_scope(officer)
    if person_id is not None:
        return people.filter(pk=person_id).first()
    return people.filter(username__iexact=username.strip()).first() if username.strip() else None


# --- Running a report (audited, and counted like any lookup) ------------------------------------------


def _run(officer: User, *, ip_address: str | None, purpose: str) -> Verdict:
    return enforce_and_monitor(
        viewer=viewer_for(officer),
        kind=LookupKind.REPORT,
        outcome="ok",
        purpose=purpose,
        ip_address=ip_address,
    )


def _audit(
    officer: User,
    action: ProtectiveAction,
    *,
    verdict: Verdict,
    ip_address: str | None,
    purpose: str,
    subject: str = "",
    detail: dict[str, Any],
) -> None:
    record_event(
        action=action,
        outcome="ok" if verdict.allowed else verdict.audit_outcome,
        actor_id=officer.pk,
        actor_username=officer.get_username(),
        organisation_code=officer.organisation.code if officer.organisation else "",
        purpose=purpose,
        subject_contactpoint_id=subject,
        ip_address=ip_address,
        detail={**detail, **verdict.audit_detail},
    )


@dataclass(frozen=True)
class ChildViewersReport:
    contactpoint_id: str
    scope: Scope
    rows: tuple[EventRow, ...]
    total: int


def who_viewed_child(
    *, officer: User, contactpoint_id: str, ip_address: str | None = None, purpose: str = ""
) -> ChildViewersReport:
    """Everyone who has viewed (or tried to view) this child, as far as the officer may see."""
    try:
        canonical = cp_id.parse(contactpoint_id)
    except cp_id.InvalidContactPointId as error:
        raise ReportRefused(str(error)) from error
    scope = report_scope(officer)
    events = events_about_child(canonical)
    if scope is Scope.LOCAL_AUTHORITY:
        child_la = (
            Child.objects.filter(contactpoint_id=canonical)
            .values_list("responsible_la_id", flat=True)
            .first()
        )
        organisation = officer.organisation
        if organisation is None or child_la != organisation.local_authority_id:
            scope = Scope.ORGANISATION
    if scope is Scope.ORGANISATION:
        events = events.filter(organisation_code__in=_organisation_codes(officer))
    with transaction.atomic():
        verdict = _run(officer, ip_address=ip_address, purpose=purpose)
        rows: tuple[EventRow, ...] = ()
        total = 0
        if verdict.allowed:
            total = events.count()
            rows = tuple(_row(e, about=canonical) for e in events[:CHILD_REPORT_LIMIT])
        _audit(
            officer,
            ProtectiveAction.REPORT_CHILD_VIEWERS,
            verdict=verdict,
            ip_address=ip_address,
            purpose=purpose,
            subject=canonical,
            detail={"scope": scope, "events": total},
        )
    if not verdict.allowed:
        raise LookupRefused(verdict)
    return ChildViewersReport(canonical, scope, rows, total)


@dataclass(frozen=True)
class ActivityPage:
    person: User
    page: Page[EventRow]


def person_activity(
    *,
    officer: User,
    person: User,
    page_number: int = 1,
    ip_address: str | None = None,
    purpose: str = "",
) -> ActivityPage:
    """One page of what a person has done, newest first: at most the result cap of events."""
    if find_person(officer, person_id=person.pk) is None:
        raise ReportRefused("You can only report on people in your own organisation.")
    paginator = Paginator(events_by_actor(person.pk), result_cap())
    with transaction.atomic():
        verdict = _run(officer, ip_address=ip_address, purpose=purpose)
        page = paginator.get_page(page_number) if verdict.allowed else None
        _audit(
            officer,
            ProtectiveAction.REPORT_PERSON_ACTIVITY,
            verdict=verdict,
            ip_address=ip_address,
            purpose=purpose,
            detail={
                "person_id": person.pk,
                "person_username": person.get_username(),
                "page": page.number if page else page_number,
            },
        )
    if page is None:
        raise LookupRefused(verdict)
    rows = [_row(event) for event in page.object_list]
    # The same page, holding report rows instead of events (the paginator only counts).
    return ActivityPage(
        person=person, page=Page(rows, page.number, cast("Paginator[EventRow]", paginator))
    )


@dataclass(frozen=True)
class EventDetail:
    row: EventRow
    returned: tuple[str, ...]  # a search's returned IDs: never more than the cap


def activity_event(
    *,
    officer: User,
    person: User,
    sequence: int,
    ip_address: str | None = None,
    purpose: str = "",
) -> EventDetail | None:
    """One of a person's events in full (a search's returned IDs, capped), or None."""
    if find_person(officer, person_id=person.pk) is None:
        raise ReportRefused("You can only report on people in your own organisation.")
    event = AuditEvent.objects.filter(actor_id=person.pk, sequence=sequence).first()
    if event is None:
        return None
    with transaction.atomic():
        verdict = _run(officer, ip_address=ip_address, purpose=purpose)
        _audit(
            officer,
            ProtectiveAction.REPORT_EVENT,
            verdict=verdict,
            ip_address=ip_address,
            purpose=purpose,
            detail={"person_id": person.pk, "sequence": sequence},
        )
    if not verdict.allowed:
        raise LookupRefused(verdict)
    detail = event.detail if isinstance(event.detail, dict) else {}
    returned = detail.get("returned")
    ids = tuple(str(i) for i in returned)[: result_cap()] if isinstance(returned, list) else ()
    return EventDetail(row=_row(event), returned=ids)


def people_matching(officer: User, text: str) -> QuerySet[User]:
    """People in scope whose username or name contains the text (at most the cap)."""
    text = text.strip()
    if not text:
        return User.objects.none()
    return people_in_scope(officer).filter(
        Q(username__icontains=text) | Q(first_name__icontains=text) | Q(last_name__icontains=text)
    )[: result_cap()]
