"""The review queue: data-quality officers decide what matching could not (issue 5, item 7).

Every decision is a service here: one transaction, one audit event, written with the change it
records (CONVENTIONS 3). Shielding is never lost by a decision (issue 5, item 5):

- a record resembling a shielded child that an officer creates as a new child is created
  shielded, for a shielding officer to review;
- merging keeps the shield if either child had it;
- unmerging, or detaching a wrongly linked record, leaves every half shielded if the whole was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from contactpoint.access.models import User
from contactpoint.access.policy import viewer_for
from contactpoint.access.protective.monitoring import (
    LookupKind,
    LookupRefused,
    enforce_and_monitor,
)
from contactpoint.access.roles import Capability, Role, role_has
from contactpoint.audit.services import record_event
from contactpoint.feeds.models import (
    ReviewDecision,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    SourceRecord,
    SourceRecordState,
    SourceSystem,
)
from contactpoint.feeds.precedence import current_precedence
from contactpoint.feeds.serialise import record_from_json
from contactpoint.index import linkage
from contactpoint.index.models import Child, ChildMerge
from contactpoint.index.records import ChildRecord
from contactpoint.shielding.services import shield_child
from contactpoint.shielding.vocabularies import DecisionSource

ITEM_PREFIX = "R"
MERGE_PREFIX = "M"


class ReviewRefused(Exception):
    """The officer may not take this decision (wrong role or LA, or the item is closed)."""


class AuditAction:
    LINKED = "feeds.review_linked"
    CREATED = "feeds.review_created_child"
    MERGED = "feeds.children_merged"
    UNMERGED = "feeds.children_unmerged"
    DISTINCT = "feeds.review_kept_apart"
    DETACHED = "feeds.source_record_detached"
    VIEWED = "feeds.review_viewed"


# --- References people can read out on the phone ------------------------------------------------


def item_reference(item: ReviewItem) -> str:
    return f"{ITEM_PREFIX}{item.pk}"


def merge_reference(merge: ChildMerge) -> str:
    return f"{MERGE_PREFIX}{merge.pk}"


def _pk_from(reference: str, prefix: str) -> int | None:
    reference = reference.strip().upper()
    if not reference.startswith(prefix) or not reference[len(prefix) :].isdigit():
        return None
    return int(reference[len(prefix) :])


# --- Who may decide ------------------------------------------------------------------------------


def may_work_queue(user: User) -> bool:
    return role_has(user.role, Capability.WORK_REVIEW_QUEUE)


def _officer_la(user: User) -> int | None:
    organisation = user.organisation
    return organisation.local_authority_id if organisation is not None else None


def _check_officer(user: User, local_authority_id: int | None) -> None:
    """Data-quality officers work the queue of their own LA only (DESIGN: users and roles)."""
    if not may_work_queue(user):
        raise ReviewRefused("only data-quality officers work the review queue")
    if user.role == Role.NATIONAL_TEAM:
        return
    if local_authority_id is None or _officer_la(user) != local_authority_id:
        raise ReviewRefused("this item belongs to another local authority's queue")


# --- Selectors -----------------------------------------------------------------------------------


def open_items_for(user: User) -> QuerySet[ReviewItem]:
    """The open items of the officer's LA, oldest first; nothing for anyone else."""
    if not may_work_queue(user) or _officer_la(user) is None:
        return ReviewItem.objects.none()
    return ReviewItem.objects.filter(
        status=ReviewStatus.OPEN, local_authority_id=_officer_la(user)
    ).select_related("source_record__source", "child", "other_child")


def get_item_for(user: User, reference: str) -> ReviewItem | None:
    pk = _pk_from(reference, ITEM_PREFIX)
    if pk is None or not may_work_queue(user):
        return None
    item = (
        ReviewItem.objects.select_related("source_record__source", "child", "other_child")
        .filter(pk=pk, local_authority_id=_officer_la(user))
        .first()
    )
    return item


def recent_merges_for(user: User, limit: int) -> list[ChildMerge]:
    """The most recent merges of children of the officer's LA that can still be undone."""
    if not may_work_queue(user) or _officer_la(user) is None:
        return []
    return list(
        ChildMerge.objects.filter(
            survivor__responsible_la_id=_officer_la(user), unmerged_at__isnull=True
        )
        .select_related("survivor")
        .order_by("-merged_at", "-pk")[:limit]
    )


def get_merge_for(user: User, reference: str) -> ChildMerge | None:
    pk = _pk_from(reference, MERGE_PREFIX)
    if pk is None or not may_work_queue(user):
        return None
    return (
        ChildMerge.objects.select_related("survivor")
        .filter(pk=pk, survivor__responsible_la_id=_officer_la(user))
        .first()
    )


@dataclass(frozen=True)
class CandidateView:
    """One candidate of an item: the child and how each field weighed (for the chart)."""

    child: Child | None
    contactpoint_id: str
    weight: float
    fields: list[dict[str, Any]]


def candidates_of(item: ReviewItem) -> list[CandidateView]:
    """The item's candidates that still exist (a child may have been merged since)."""
    ids = [c["child_id"] for c in item.candidates if c.get("child_id")]
    children = {c.pk: c for c in Child.objects.filter(pk__in=ids)}
    views = []
    for candidate in item.candidates:
        child = children.get(candidate.get("child_id"))
        explanation = candidate.get("explanation", {})
        views.append(
            CandidateView(
                child=child,
                contactpoint_id=child.contactpoint_id if child else "",
                weight=float(explanation.get("weight", 0.0)),
                fields=list(explanation.get("fields", [])),
            )
        )
    return views


# --- Reports of children (what a child is rebuilt from) -----------------------------------------


def reports_of(child: Child) -> list[ChildRecord]:
    """Every report linked to a child, as ChildRecords."""
    return [
        record_from_json(r.report)
        for r in SourceRecord.objects.filter(child=child, state=SourceRecordState.LINKED)
    ]


def _feed_sources() -> list[str]:
    return list(SourceSystem.objects.values_list("code", flat=True))


def _audit(
    officer: User,
    action: str,
    child: Child | None,
    detail: dict[str, Any],
    subject: str = "",
    *,
    outcome: str = "ok",
    purpose: str = "",
    ip_address: str | None = None,
) -> None:
    organisation = officer.organisation
    record_event(
        action=action,
        outcome=outcome,
        actor_id=officer.pk,
        actor_username=officer.get_username(),
        organisation_code=organisation.code if organisation else "",
        purpose=purpose,
        subject_contactpoint_id=subject or (child.contactpoint_id if child else ""),
        ip_address=ip_address,
        detail=detail,
    )


def _shield_from_flag(child: Child, source_code: str) -> None:
    """The source's sensitive-record flag: a shield decision due for an officer's review."""
    shield_child(
        officer=None,
        child=child,
        reason="",
        justification="",
        source=DecisionSource.SOURCE_SYSTEM,
        source_system=source_code,
    )


def _close(item: ReviewItem, officer: User, decision: str) -> None:
    item.status = ReviewStatus.DECIDED
    item.decision = decision
    item.decided_by = officer
    item.decided_at = timezone.now()
    item.save(update_fields=["status", "decision", "decided_by", "decided_at"])


def _lock_open(item: ReviewItem) -> ReviewItem:
    locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if locked.status != ReviewStatus.OPEN:
        raise ReviewRefused("this item has already been decided")
    return locked


# --- Decisions on an incoming record -----------------------------------------------------------


@transaction.atomic
def link_record(*, officer: User, item: ReviewItem, child: Child) -> Child:
    """The incoming record is this child: link it and rebuild the child's record."""
    item = _lock_open(item)
    _check_officer(officer, item.local_authority_id)
    if item.kind != ReviewKind.INCOMING or item.source_record is None:
        raise ReviewRefused("only an incoming record can be linked")
    allowed = {c.get("child_id") for c in item.candidates}
    if child.pk not in allowed:
        raise ReviewRefused("link only to one of the candidates shown")
    record = SourceRecord.objects.select_for_update().get(pk=item.source_record.pk)
    record.child = child
    record.state = SourceRecordState.LINKED
    record.save(update_fields=["child", "state"])
    flagged = bool(record.report.get("is_shielded"))
    child = linkage.rebuild_child(
        child=child,
        reports=reports_of(child),
        precedence=current_precedence(),
        feed_sources=_feed_sources(),
        # Only this record's flag counts: an officer may have unshielded the child since
        # another of its sources asked for the shield.
        shield_requested=flagged,
    )
    if flagged:
        _shield_from_flag(child, record.source.code)
    _close(item, officer, ReviewDecision.LINKED)
    _audit(
        officer,
        AuditAction.LINKED,
        child,
        {
            "item": item.pk,
            "source": record.source.code,
            "source_record_id": record.source_record_id,
        },
    )
    return child


@transaction.atomic
def create_child_from_record(*, officer: User, item: ReviewItem) -> Child:
    """The incoming record is a child the index does not hold: create it.

    If it was in review because it resembled a shielded child, the new child is created
    shielded: a person may be wrong, and a shielding officer must look before it is unshielded.
    """
    item = _lock_open(item)
    _check_officer(officer, item.local_authority_id)
    if item.kind != ReviewKind.INCOMING or item.source_record is None:
        raise ReviewRefused("only an incoming record can become a new child")
    record = SourceRecord.objects.select_for_update().get(pk=item.source_record.pk)
    report = record_from_json(record.report)
    if not report.responsible_la_ons_code:  # a national source: the queue's LA is responsible
        report = dataclasses.replace(report, responsible_la_ons_code=item.local_authority.ons_code)
    child = linkage.create_child_from_reports(
        reports=[report], precedence=current_precedence(), feed_sources=_feed_sources()
    )
    if report.is_shielded:
        _shield_from_flag(child, record.source.code)
    elif item.involves_shielded and not child.is_shielded:
        Child.objects.filter(pk=child.pk).update(is_shielded=True)
        child.refresh_from_db()
    record.child = child
    record.state = SourceRecordState.LINKED
    record.save(update_fields=["child", "state"])
    _close(item, officer, ReviewDecision.CREATED)
    _audit(
        officer,
        AuditAction.CREATED,
        child,
        {
            "item": item.pk,
            "source": record.source.code,
            "source_record_id": record.source_record_id,
            "shielded_as_precaution": item.involves_shielded,
        },
    )
    return child


# --- Merging, unmerging and detaching --------------------------------------------------------


@transaction.atomic
def merge_children(
    *,
    officer: User,
    survivor: Child,
    absorbed: Child,
    reason: str,
    item: ReviewItem | None = None,
) -> ChildMerge:
    """Two children are one: merge them (the survivor keeps its ContactPoint ID and any shield)."""
    if item is not None:
        item = _lock_open(item)
        _check_officer(officer, item.local_authority_id)
    else:
        _check_officer(officer, survivor.responsible_la_id)
        _check_officer(officer, absorbed.responsible_la_id)
    merge = linkage.merge_children(
        survivor=survivor,
        absorbed=absorbed,
        reports_of=reports_of,
        precedence=current_precedence(),
        feed_sources=_feed_sources(),
        merged_by=officer.get_username(),
        reason=reason,
    )
    if item is not None:
        _close(item, officer, ReviewDecision.MERGED)
    _audit(
        officer,
        AuditAction.MERGED,
        merge.survivor,
        {
            "merge": merge.pk,
            "absorbed": merge.absorbed_contactpoint_id,
            "reason": reason[:200],
            "item": item.pk if item else None,
        },
    )
    return merge


@transaction.atomic
def unmerge(*, officer: User, merge: ChildMerge) -> Child:
    """Undo a merge; both halves stay shielded if either was (issue 5, item 5)."""
    _check_officer(officer, merge.survivor.responsible_la_id)
    restored = linkage.unmerge_children(
        merge=merge,
        reports_of=reports_of,
        precedence=current_precedence(),
        feed_sources=_feed_sources(),
        unmerged_by=officer.get_username(),
    )
    _audit(
        officer,
        AuditAction.UNMERGED,
        merge.survivor,
        {"merge": merge.pk, "restored": restored.contactpoint_id},
    )
    return restored


@transaction.atomic
def keep_apart(*, officer: User, item: ReviewItem) -> None:
    """Two children who looked like one are different children."""
    item = _lock_open(item)
    _check_officer(officer, item.local_authority_id)
    _close(item, officer, ReviewDecision.DISTINCT)
    _audit(officer, AuditAction.DISTINCT, item.child, {"item": item.pk})


@transaction.atomic
def detach_record(*, officer: User, record: SourceRecord) -> Child:
    """A record linked to the wrong child: take it off and make it a child of its own.

    Reverses an automatic link (DESIGN: every link is reversible). Both children are shielded
    if the child it was linked to was.
    """
    record = SourceRecord.objects.select_for_update().get(pk=record.pk)
    original = record.child
    if original is None or record.state != SourceRecordState.LINKED:
        raise ReviewRefused("this record is not linked to a child")
    _check_officer(officer, original.responsible_la_id)
    remaining = [
        record_from_json(r.report)
        for r in SourceRecord.objects.filter(
            child=original, state=SourceRecordState.LINKED
        ).exclude(pk=record.pk)
    ]
    if not remaining:
        raise ReviewRefused("the child has no other record: there is nothing to detach it from")
    precedence, sources = current_precedence(), _feed_sources()
    new_child = linkage.create_child_from_reports(
        reports=[record_from_json(record.report)], precedence=precedence, feed_sources=sources
    )
    record.child = new_child
    record.save(update_fields=["child"])
    linkage.rebuild_child(
        child=original, reports=remaining, precedence=precedence, feed_sources=sources
    )
    if original.is_shielded:
        Child.objects.filter(pk=new_child.pk).update(is_shielded=True)
        new_child.refresh_from_db()
    _audit(
        officer,
        AuditAction.DETACHED,
        original,
        {
            "source": record.source.code,
            "source_record_id": record.source_record_id,
            "new_child": new_child.contactpoint_id,
        },
    )
    return new_child


def record_review_viewed(
    *,
    officer: User,
    item: ReviewItem,
    shown: Sequence[str],
    purpose: str = "",
    ip_address: str | None = None,
) -> None:
    """Count, monitor and audit an officer's look at an item and the candidate children it names.

    The candidates' records are disclosed as a record view discloses one, so quotas and
    protective monitoring apply (issue 6: no path round the quota on children seen). Raises
    LookupRefused, after committing the refusal and any suspension, when they stop it: show
    nothing then.
    """
    with transaction.atomic():
        verdict = enforce_and_monitor(
            viewer=viewer_for(officer),
            kind=LookupKind.REVIEW,
            outcome="shown",
            disclosed=shown,
            purpose=purpose,
            ip_address=ip_address,
        )
        _audit(
            officer,
            AuditAction.VIEWED,
            None,
            {
                "item": item.pk,
                "children": list(shown) if verdict.allowed else [],
                **verdict.audit_detail,
            },
            subject=shown[0] if shown else "",
            outcome="ok" if verdict.allowed else verdict.audit_outcome,
            purpose=purpose,
            ip_address=ip_address,
        )
    if not verdict.allowed:
        raise LookupRefused(verdict)
