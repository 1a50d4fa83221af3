"""Reads for shielding: a child's shield status, an officer's queues, and the LA's counts.

Nothing here lists an LA's shielded children wholesale. An officer sees their overdue-review
queue, capped at REVIEW_QUEUE_CAP with no way to page past it (docs/security.md, "Shielding"),
their open cases, capped likewise, and counts. Every read a person makes through these is
audited by the service that calls it (services.read_*).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from contactpoint.access.models import Alert, AlertAudience, AlertStatus, Organisation, User
from contactpoint.access.roles import Capability, Role, role_has
from contactpoint.access.vocabularies import OrganisationKind
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.index.models import Child, ChildMerge, ChildName
from contactpoint.index.vocabularies import ChildStatus, NameKind
from contactpoint.shielding.audit_actions import BREAK_GLASS_ALERT_RULE
from contactpoint.shielding.models import (
    BreakGlassGrant,
    ContactRequest,
    ShieldingDecision,
    ShieldingRequest,
)
from contactpoint.shielding.vocabularies import (
    CASE_QUEUE_CAP,
    REVIEW_QUEUE_CAP,
    REVIEW_SOON_DAYS,
    ContactRequestStatus,
    DecisionKind,
    DecisionSource,
    RequestStatus,
    ShieldingReason,
)

# --- Who may do what, where ----------------------------------------------------------------------


def officer_local_authority(user: User) -> int | None:
    """The LA whose shielding a person manages: their organisation's, if their role allows."""
    if not role_has(user.role, Capability.MANAGE_SHIELDING):
        return None
    organisation = user.organisation
    if organisation is None or organisation.kind != OrganisationKind.LOCAL_AUTHORITY:
        return None
    return organisation.local_authority_id


def get_child_in_remit(officer: User, contactpoint_id: str) -> Child | None:
    """The child with this ID if it is the officer's LA's to shield; None otherwise.

    Archived records are outside every officer's remit: their shield stays as it is, and only
    the data managers and the national team may see them (DESIGN: lifecycle).
    """
    local_authority_id = officer_local_authority(officer)
    try:
        canonical = cp_id.parse(contactpoint_id)
    except cp_id.InvalidContactPointId:
        return None
    if local_authority_id is None:
        return None
    return (
        Child.objects.filter(contactpoint_id=canonical, responsible_la_id=local_authority_id)
        .exclude(status=ChildStatus.ARCHIVED)
        .select_related("responsible_la")
        .first()
    )


# --- A child's shield status ---------------------------------------------------------------------


class DueBecause(StrEnum):
    NO_DECISION = "no_decision"
    SOURCE_FLAG = "source_flag"
    REVIEW_DATE = "review_date"
    MERGED_SINCE = "merged_since"
    UNEXPLAINED = "unexplained"  # shielded although the latest decision unshielded it


DUE_BECAUSE_LABELS: dict[DueBecause, str] = {
    DueBecause.NO_DECISION: "Shielded without a recorded decision (for example by matching)",
    DueBecause.SOURCE_FLAG: "Shielded at a source system's request: needs an officer's review",
    DueBecause.REVIEW_DATE: "Review date reached",
    DueBecause.MERGED_SINCE: "Records merged or separated since the last decision",
    DueBecause.UNEXPLAINED: "Shielded again since it was unshielded",
}


@dataclass(frozen=True)
class ShieldStatus:
    """Why a child is (or is not) shielded, and when its shield is next due for review."""

    child_id: int
    contactpoint_id: str
    is_shielded: bool
    latest: ShieldingDecision | None
    due_on: dt.date | None  # None: not shielded, nothing to review
    due_because: DueBecause | None

    @property
    def reason(self) -> str:
        """The reason category the shield rests on ('' when none is recorded yet)."""
        if self.latest is None or not self.latest.keeps_shield or not self.is_shielded:
            return ""
        return self.latest.reason

    def is_due(self, today: dt.date) -> bool:
        return self.due_on is not None and self.due_on <= today

    @property
    def due_label(self) -> str:
        return DUE_BECAUSE_LABELS[self.due_because] if self.due_because else ""


def shield_status(
    *,
    child_id: int,
    contactpoint_id: str,
    is_shielded: bool,
    latest: ShieldingDecision | None,
    last_merge_at: dt.datetime | None,
) -> ShieldStatus:
    """The review a shielded child needs, from its latest decision (pure: no queries).

    A shield that no officer's decision explains is due at once: shielding is never lost, but
    a shield nobody has reviewed is not left unexamined either (issue 7, items 1, 2 and 6).
    """
    due_on: dt.date | None = None
    because: DueBecause | None = None
    if is_shielded:
        if latest is None:
            due_on, because = dt.date.min, DueBecause.NO_DECISION
        elif latest.kind == DecisionKind.UNSHIELD:
            due_on, because = timezone.localdate(latest.decided_at), DueBecause.UNEXPLAINED
        elif latest.source == DecisionSource.SOURCE_SYSTEM:
            due_on, because = timezone.localdate(latest.decided_at), DueBecause.SOURCE_FLAG
        elif last_merge_at is not None and last_merge_at > latest.decided_at:
            due_on, because = timezone.localdate(last_merge_at), DueBecause.MERGED_SINCE
        else:
            due_on, because = latest.review_on, DueBecause.REVIEW_DATE
    return ShieldStatus(child_id, contactpoint_id, is_shielded, latest, due_on, because)


def latest_decisions(child_ids: list[int]) -> dict[int, ShieldingDecision]:
    """Each child's latest shielding decision, in one query."""
    if not child_ids:
        return {}
    newest = ShieldingDecision.objects.filter(child_id=OuterRef("child_id")).order_by(
        "-decided_at", "-pk"
    )
    return {
        d.child_id: d
        for d in ShieldingDecision.objects.filter(
            child_id__in=child_ids, pk=Subquery(newest.values("pk")[:1])
        )
    }


def shielded_only_as_a_precaution(child_ids: list[int]) -> set[int]:
    """The children among these whose shield is only matching's precaution (no flag, no officer).

    Matching compares records with them as with any child: each resembled a shielded child,
    which the shield net still compares every record with directly, so treating them as
    shielded too would only shield strangers who resemble strangers.
    """
    return {
        child_id
        for child_id, decision in latest_decisions(child_ids).items()
        if decision.is_precaution
    }


def _last_merges(child_ids: list[int]) -> dict[int, dt.datetime]:
    """When each child last took part in a merge or an unmerge."""
    found: dict[int, dt.datetime] = {}
    if not child_ids:
        return found
    for merge in ChildMerge.objects.filter(survivor_id__in=child_ids).only(
        "survivor_id", "merged_at", "unmerged_at"
    ):
        when = max(t for t in (merge.merged_at, merge.unmerged_at) if t is not None)
        found[merge.survivor_id] = max(when, found.get(merge.survivor_id, when))
    for merge in ChildMerge.objects.filter(restored_child_id__in=child_ids).only(
        "restored_child_id", "unmerged_at"
    ):
        if merge.restored_child_id is not None and merge.unmerged_at is not None:
            child_id = merge.restored_child_id
            found[child_id] = max(merge.unmerged_at, found.get(child_id, merge.unmerged_at))
    return found


def statuses_of(children: list[Child]) -> list[ShieldStatus]:
    """The shield status of each child, in three queries whatever their number."""
    ids = [c.pk for c in children]
    decisions = latest_decisions(ids)
    merges = _last_merges(ids)
    return [
        shield_status(
            child_id=c.pk,
            contactpoint_id=c.contactpoint_id,
            is_shielded=c.is_shielded,
            latest=decisions.get(c.pk),
            last_merge_at=merges.get(c.pk),
        )
        for c in children
    ]


def status_of(child: Child) -> ShieldStatus:
    return statuses_of([child])[0]


def decision_history(child: Child) -> QuerySet[ShieldingDecision]:
    """Every decision about this child (and any child merged into it), newest first."""
    return ShieldingDecision.objects.filter(child=child).order_by("-decided_at", "-pk")


# --- The overdue-review queue --------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    status: ShieldStatus
    given_names: str
    family_name: str
    date_of_birth: dt.date

    @property
    def display_id(self) -> str:
        return cp_id.display(self.status.contactpoint_id)


@dataclass(frozen=True)
class ReviewQueue:
    """The reviews due in one LA, most overdue first: at most `cap` of `total_due`."""

    entries: list[QueueEntry]
    total_due: int
    cap: int

    @property
    def is_capped(self) -> bool:
        return self.total_due > len(self.entries)


def _shielded_children_of(local_authority_id: int) -> list[Child]:
    # Uses the partial index child_shielded (responsible_la WHERE is_shielded).
    return list(
        Child.objects.filter(responsible_la_id=local_authority_id, is_shielded=True)
        .exclude(status=ChildStatus.ARCHIVED)
        .only("id", "contactpoint_id", "is_shielded", "date_of_birth", "status")
    )


def overdue_reviews(
    local_authority_id: int, *, today: dt.date | None = None, cap: int = REVIEW_QUEUE_CAP
) -> ReviewQueue:
    """The LA's shields due for review today, most overdue first, capped (no paging)."""
    today = today or timezone.localdate()
    children = {c.pk: c for c in _shielded_children_of(local_authority_id)}
    due = sorted(
        (s for s in statuses_of(list(children.values())) if s.is_due(today)),
        key=lambda s: (s.due_on or dt.date.min, s.contactpoint_id),
    )
    shown = due[:cap]
    names = {
        n.child_id: n
        for n in ChildName.objects.filter(
            child_id__in=[s.child_id for s in shown], kind=NameKind.CURRENT
        ).only("child_id", "given_names", "family_name")
    }
    entries = [
        QueueEntry(
            status=s,
            given_names=names[s.child_id].given_names if s.child_id in names else "",
            family_name=names[s.child_id].family_name if s.child_id in names else "",
            date_of_birth=children[s.child_id].date_of_birth,
        )
        for s in shown
    ]
    return ReviewQueue(entries=entries, total_due=len(due), cap=cap)


# --- Cases -------------------------------------------------------------------------------------


def open_shielding_requests(local_authority_id: int) -> QuerySet[ShieldingRequest]:
    """The LA's open requests to shield, oldest first, capped."""
    return ShieldingRequest.objects.filter(
        local_authority_id=local_authority_id, status=RequestStatus.OPEN
    ).order_by("received_at", "pk")[:CASE_QUEUE_CAP]


def get_shielding_request(officer: User, pk: int) -> ShieldingRequest | None:
    """One request of the officer's LA (any status), or None outside their remit."""
    local_authority_id = officer_local_authority(officer)
    if local_authority_id is None:
        return None
    return (
        ShieldingRequest.objects.filter(pk=pk, local_authority_id=local_authority_id)
        .select_related("child")
        .first()
    )


def open_contact_requests(local_authority_id: int) -> QuerySet[ContactRequest]:
    """The LA's open contact requests, oldest first, capped."""
    return ContactRequest.objects.filter(
        local_authority_id=local_authority_id, status=ContactRequestStatus.OPEN
    ).order_by("requested_at", "pk")[:CASE_QUEUE_CAP]


def get_contact_request(officer: User, pk: int) -> ContactRequest | None:
    """One contact request of the officer's LA, or None outside their remit."""
    local_authority_id = officer_local_authority(officer)
    if local_authority_id is None:
        return None
    return (
        ContactRequest.objects.filter(pk=pk, local_authority_id=local_authority_id)
        .select_related("child")
        .first()
    )


def current_name(child: Child) -> ChildName | None:
    return ChildName.objects.filter(child=child, kind=NameKind.CURRENT).first()


# --- The LA report: counts only ------------------------------------------------------------------


@dataclass(frozen=True)
class LaShieldingReport:
    """How shielding stands in one LA: numbers, never a list of children (issue 7, item 7)."""

    local_authority_name: str
    shielded_total: int
    by_reason: list[tuple[str, int]]  # (label, count), every reason listed, in vocabulary order
    reviews_overdue: int
    reviews_due_soon: int
    break_glass_uses_past_year: int
    break_glass_alerts_open: int
    open_shielding_requests: int
    open_contact_requests: int
    trained_officers: int
    generated_on: dt.date = field(default_factory=timezone.localdate)

    @property
    def too_few_officers(self) -> bool:
        """Fewer than two trained officers: shielding stops when one is away (issue 7, 1)."""
        return self.trained_officers < MINIMUM_OFFICERS


AWAITING_REVIEW_LABEL = "Awaiting an officer's review"
MINIMUM_OFFICERS = 2  # DESIGN: two trained officials per LA manage shielding


def la_report(local_authority_id: int, *, today: dt.date | None = None) -> LaShieldingReport:
    """Counts for one LA: shielded children by reason, reviews due, break-glass uses, cases."""
    today = today or timezone.localdate()
    statuses = statuses_of(_shielded_children_of(local_authority_id))
    reasons = Counter(
        s.reason if s.reason and s.reason != ShieldingReason.SOURCE_FLAG else "" for s in statuses
    )
    by_reason = [
        (str(label), reasons.get(value, 0))
        for value, label in ShieldingReason.choices
        if value != ShieldingReason.SOURCE_FLAG
    ] + [(AWAITING_REVIEW_LABEL, reasons.get("", 0))]
    soon = today + dt.timedelta(days=REVIEW_SOON_DAYS)
    team = Organisation.objects.filter(
        kind=OrganisationKind.LOCAL_AUTHORITY, local_authority_id=local_authority_id
    ).first()
    # One alert per use goes to the LA's team: those still open or being investigated.
    alerts_open = (
        Alert.objects.filter(
            organisation=team,
            audience=AlertAudience.LA_CONTACTPOINT_TEAM,
            rule=BREAK_GLASS_ALERT_RULE,
            status__in=[AlertStatus.OPEN, AlertStatus.INVESTIGATING],
        ).count()
        if team is not None
        else 0
    )
    authority_name = team.name if team is not None else ""
    return LaShieldingReport(
        local_authority_name=authority_name,
        shielded_total=len(statuses),
        by_reason=by_reason,
        reviews_overdue=sum(1 for s in statuses if s.is_due(today)),
        reviews_due_soon=sum(
            1 for s in statuses if s.due_on is not None and today < s.due_on <= soon
        ),
        break_glass_uses_past_year=BreakGlassGrant.objects.filter(
            local_authority_id=local_authority_id,
            granted_at__gte=timezone.now() - dt.timedelta(days=365),
        ).count(),
        break_glass_alerts_open=alerts_open,
        open_shielding_requests=ShieldingRequest.objects.filter(
            local_authority_id=local_authority_id, status=RequestStatus.OPEN
        ).count(),
        open_contact_requests=ContactRequest.objects.filter(
            local_authority_id=local_authority_id, status=ContactRequestStatus.OPEN
        ).count(),
        trained_officers=User.objects.filter(
            organisation=team,
            role=Role.SHIELDING_OFFICER,
            is_active=True,
            suspended_at__isnull=True,
            shielding_training_completed_on__isnull=False,
        ).count()
        if team is not None
        else 0,
        generated_on=today,
    )
