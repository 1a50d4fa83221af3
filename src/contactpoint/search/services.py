"""Searching for children and viewing one: every read audited in its own transaction.

Each function does the read and writes its audit event in ONE database transaction before it
returns (DESIGN: audit). If the event cannot be written the read fails too and nothing is
returned (fail closed). Both return only what access.policy projects for the viewer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from contactpoint.access.policy import (
    ChildProjection,
    PurposeRequired,
    SearchResultRow,
    Viewer,
    has_current_sensitive_service,
    project_child,
    project_search_result,
    search_mode,
)
from contactpoint.access.protective.monitoring import (
    LookupKind,
    LookupRefused,
    enforce_and_monitor,
)
from contactpoint.audit.services import AuditedTransaction, audited_transaction
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.index.models import Address, Child, ChildName
from contactpoint.index.vocabularies import AddressKind, NameKind
from contactpoint.search.audit_actions import SearchAction, SearchOutcome, ViewOutcome
from contactpoint.search.criteria import CriteriaRefused, SearchCriteria, what_to_add
from contactpoint.search.retrieval import TooBroad, find_candidate_names
from contactpoint.search.scoring import (
    Band,
    CandidateAddress,
    Scored,
    best_names,
    score_candidate,
)
from contactpoint.search.selectors import get_child_for_view

DEFAULT_RESULT_CAP = 10
MAX_RESULT_CAP = 50  # issue 4: configurable, never above 50

TOO_MANY_MESSAGE = (
    "Too many matches: add detail, such as the child's given name, full date of birth or "
    "postcode, and search again."
)
NO_MATCHES_MESSAGE = (
    "No children match. Check the spelling and the date of birth, or try a former name."
)
_BAND_ORDER = {Band.STRONG: 0, Band.POSSIBLE: 1}
_CHILD_FIELDS = (
    "id",
    "contactpoint_id",
    "gender",
    "date_of_birth",
    "status",
    "archived_on",
    "is_shielded",
    "responsible_la_id",
)


class SearchUnavailable(RuntimeError):
    """The read or its audit event could not be written: nothing may be shown (fail closed)."""


class InvalidChildId(ValueError):
    """A ContactPoint ID that is not well formed; the message says what is wrong."""


class ChildNotFound(LookupError):
    """No child with that ID is visible to this viewer (the same answer whether or not it exists)."""


@dataclass(frozen=True)
class SearchResults:
    outcome: SearchOutcome
    rows: tuple[SearchResultRow, ...] = ()
    message: str = ""


def result_cap() -> int:
    """The most results one search may show: CONTACTPOINT_SEARCH_RESULT_CAP, 1 to 50."""
    configured = getattr(settings, "CONTACTPOINT_SEARCH_RESULT_CAP", DEFAULT_RESULT_CAP)
    try:
        cap = int(configured)
    except (TypeError, ValueError):
        cap = DEFAULT_RESULT_CAP
    return max(1, min(cap, MAX_RESULT_CAP))


def _require_purpose(purpose: str) -> None:
    if not purpose.strip():
        raise PurposeRequired("state a reason for access before searching or viewing")


def _audit(
    audit: AuditedTransaction,
    *,
    viewer: Viewer,
    action: SearchAction,
    outcome: str,
    purpose: str,
    ip_address: str | None,
    subject: str = "",
    detail: dict[str, Any],
) -> None:
    audit.record(
        action=action,
        outcome=outcome,
        actor_id=viewer.user_id,
        actor_username=viewer.username,
        organisation_code=viewer.organisation_code,
        purpose=purpose,
        subject_contactpoint_id=subject,
        ip_address=ip_address,
        detail=detail,
    )


def search_children(
    *, viewer: Viewer, criteria: SearchCriteria, purpose: str, ip_address: str | None = None
) -> SearchResults:
    """Search, rank, band and cap; audit who searched, why, with what, and which IDs came back.

    Raises CriteriaRefused (audited) when the criteria are not specific enough,
    LookupRefused (audited) when a quota or monitoring rule stops it (access.protective), and
    SearchUnavailable when the database or the audit log cannot be written.
    """
    _require_purpose(purpose)
    refusal = what_to_add(criteria.provided)
    try:
        if refusal is not None:
            with audited_transaction() as audit:
                verdict = enforce_and_monitor(
                    viewer=viewer,
                    kind=LookupKind.SEARCH,
                    outcome=SearchOutcome.REFUSED,
                    criteria=criteria.for_audit(),
                    purpose=purpose,
                    ip_address=ip_address,
                )
                _audit(
                    audit,
                    viewer=viewer,
                    action=SearchAction.SEARCH,
                    outcome=SearchOutcome.REFUSED if verdict.allowed else verdict.audit_outcome,
                    purpose=purpose,
                    ip_address=ip_address,
                    detail={
                        "criteria": criteria.for_audit(),
                        "reason": refusal,
                        **verdict.audit_detail,
                    },
                )
        else:
            with audited_transaction() as audit:
                results, candidates, local_authority_of = _search(viewer, criteria)
                # Quotas and protective monitoring, in this transaction; a refusal shows nothing.
                verdict = enforce_and_monitor(
                    viewer=viewer,
                    kind=LookupKind.SEARCH,
                    outcome=results.outcome,
                    disclosed=[row.contactpoint_id for row in results.rows],
                    local_authority_of=local_authority_of,
                    criteria=criteria.for_audit(),
                    purpose=purpose,
                    ip_address=ip_address,
                )
                if not verdict.allowed:
                    results = SearchResults(SearchOutcome.REFUSED, message=verdict.message)
                _audit(
                    audit,
                    viewer=viewer,
                    action=SearchAction.SEARCH,
                    outcome=results.outcome if verdict.allowed else verdict.audit_outcome,
                    purpose=purpose,
                    ip_address=ip_address,
                    detail={
                        "criteria": criteria.for_audit(),
                        "candidates": candidates,
                        "returned": [row.contactpoint_id for row in results.rows],
                        **verdict.audit_detail,
                    },
                )
    except DatabaseError as error:
        raise SearchUnavailable("the search could not be recorded, so it was not run") from error
    if not verdict.allowed:
        raise LookupRefused(verdict)
    if refusal is not None:
        raise CriteriaRefused(refusal)
    return results


def _search(viewer: Viewer, criteria: SearchCriteria) -> tuple[SearchResults, int, dict[str, int]]:
    """The read itself: (results, how many candidate names were scored, the responsible LA of
    each child shown by ContactPoint ID)."""
    try:
        rows = find_candidate_names(criteria)
    except TooBroad:
        return SearchResults(SearchOutcome.TOO_MANY, message=TOO_MANY_MESSAGE), -1, {}
    names = best_names(criteria, rows)
    children = {
        child.pk: child for child in Child.objects.filter(id__in=list(names)).only(*_CHILD_FIELDS)
    }
    addresses: dict[int, list[CandidateAddress]] = defaultdict(list)
    for child_id, kind, postcode, district, sector in Address.objects.filter(
        child_id__in=list(children)
    ).values_list("child_id", "kind", "postcode", "postcode_district", "postcode_sector"):
        addresses[child_id].append(CandidateAddress(kind, postcode, district, sector))

    hidden = criteria.uses_hidden_field
    matches: list[tuple[Scored, Child]] = []
    for child_id, name in names.items():
        child = children.get(child_id)
        # Left out before counting, so that "too many" cannot reveal a hidden child either.
        if (
            child is None
            or search_mode(viewer, child, hidden_field_search=hidden, today=criteria.today) is None
        ):
            continue
        scored = score_candidate(
            criteria,
            child_id=child_id,
            name=name,
            date_of_birth=child.date_of_birth,
            responsible_la_id=child.responsible_la_id,
            addresses=addresses[child_id],
        )
        if scored is not None:
            matches.append((scored, child))

    if len(matches) > result_cap():
        return SearchResults(SearchOutcome.TOO_MANY, message=TOO_MANY_MESSAGE), len(rows), {}
    if not matches:
        return SearchResults(SearchOutcome.NO_MATCHES, message=NO_MATCHES_MESSAGE), len(rows), {}

    current_names = {
        name.child_id: name
        for name in ChildName.objects.filter(
            child_id__in=[child.pk for _, child in matches], kind=NameKind.CURRENT
        ).only("child_id", "given_names", "family_name", "kind")
    }
    matches.sort(
        key=lambda m: (
            -m[0].score,
            _BAND_ORDER[m[0].band],
            current_names[m[1].pk].family_name if m[1].pk in current_names else "",
            m[1].date_of_birth,
        )
    )
    result_rows = []
    for scored, child in matches:
        current = current_names.get(child.pk)
        if current is None:  # a child always has a current name; skip rather than guess
            continue
        row = project_search_result(
            viewer=viewer,
            child=child,
            current_name=current,
            postcode_district=_display_district(addresses[child.pk]),
            band=scored.band,
            hidden_field_search=hidden,
            today=criteria.today,
        )
        if row is not None:
            result_rows.append(row)
    local_authority_of = {child.contactpoint_id: child.responsible_la_id for _, child in matches}
    return (
        SearchResults(SearchOutcome.MATCHES, rows=tuple(result_rows)),
        len(rows),
        local_authority_of,
    )


def _display_district(addresses: list[CandidateAddress]) -> str:
    """The district of the current (or last known) address: never more of the address."""
    for kind in (AddressKind.CURRENT, AddressKind.LAST_KNOWN):
        for address in addresses:
            if address.kind == kind:
                return address.district
    return ""


def view_child(
    *, viewer: Viewer, contactpoint_id: str, purpose: str, ip_address: str | None = None
) -> ChildProjection:
    """One child's record as the policy lets this viewer see it; audited with what was shown.

    Raises InvalidChildId for a malformed ID, ChildNotFound (audited) when no child with the ID
    is visible to the viewer, LookupRefused (audited) when a quota or monitoring rule stops it,
    and SearchUnavailable when the audit event cannot be written.
    """
    _require_purpose(purpose)
    try:
        canonical = cp_id.parse(contactpoint_id)
    except cp_id.InvalidContactPointId as error:
        raise InvalidChildId(str(error)) from error
    try:
        with audited_transaction() as audit:
            child = get_child_for_view(canonical)
            projection = (
                project_child(viewer=viewer, child=child, purpose=purpose)
                if child is not None
                else None
            )
            # Quotas and protective monitoring, in this transaction; a refusal shows nothing.
            verdict = enforce_and_monitor(
                viewer=viewer,
                kind=LookupKind.VIEW,
                outcome=ViewOutcome.NOT_FOUND if projection is None else ViewOutcome.SHOWN,
                disclosed=[] if projection is None else [canonical],
                local_authority_of=(
                    {canonical: child.responsible_la_id} if child is not None else {}
                ),
                sensitive_ids=(
                    {canonical}
                    if child is not None and has_current_sensitive_service(child)
                    else set()
                ),
                requested_id=canonical,
                purpose=purpose,
                ip_address=ip_address,
            )
            if projection is None or not verdict.allowed:
                projection = None
                _audit(
                    audit,
                    viewer=viewer,
                    action=SearchAction.VIEW,
                    outcome=ViewOutcome.NOT_FOUND if verdict.allowed else verdict.audit_outcome,
                    purpose=purpose,
                    ip_address=ip_address,
                    subject=canonical,
                    detail={"exists": child is not None, **verdict.audit_detail},
                )
            else:
                _audit(
                    audit,
                    viewer=viewer,
                    action=SearchAction.VIEW,
                    outcome=ViewOutcome.SHOWN,
                    purpose=purpose,
                    ip_address=ip_address,
                    subject=canonical,
                    detail={
                        "mode": str(projection.mode),
                        "shown": projection.shown,
                        **verdict.audit_detail,
                    },
                )
    except DatabaseError as error:
        raise SearchUnavailable("the view could not be recorded, so nothing was shown") from error
    if not verdict.allowed:
        raise LookupRefused(verdict)
    if projection is None:
        raise ChildNotFound(canonical)
    return projection
