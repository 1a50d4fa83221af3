"""Shielding's records: decisions, requests to shield, brokered contact, and break-glass grants.

`index.Child.is_shielded` is the one flag the view policy, search and matching read; these
models are why it is set, who decided, and when it is looked at again. Every model here points
at the child with a plain foreign key (never one-to-one): merging two children moves these rows
to the survivor and unmerging moves them back (index.linkage), so none may be unique per child.

Models keep integrity (constraints); the workflows live in services.py (CONVENTIONS 3).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from contactpoint.access.models import User
from contactpoint.index.models import Child, LocalAuthority
from contactpoint.index.validators import validate_uk_phone
from contactpoint.shielding.vocabularies import (
    BREAK_GLASS_REASON_MAX_LENGTH,
    JUSTIFICATION_MAX_LENGTH,
    OFFICER_REASONS,
    PRECAUTION_JUSTIFICATION,
    ContactRequestStatus,
    DecisionKind,
    DecisionSource,
    RequesterKind,
    RequestStatus,
    ShieldingReason,
)

ID_LENGTH = 12  # a ContactPoint ID, kept as text so that history reads whole after merges
NOTE_LENGTH = 300


class ShieldingDecision(models.Model):
    """One decision about a child's shield: shielded, reviewed (it continues), or unshielded.

    The child's latest decision explains its shield; a shielded child whose latest decision
    does not (none yet, a source's flag, a review date passed, a merge since) is due for review.
    """

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="shielding_decisions")
    contactpoint_id = models.CharField(max_length=ID_LENGTH)
    kind = models.CharField(max_length=10, choices=DecisionKind.choices)
    reason = models.CharField(max_length=24, choices=ShieldingReason.choices, blank=True)
    justification = models.CharField(max_length=JUSTIFICATION_MAX_LENGTH)
    source = models.CharField(max_length=16, choices=DecisionSource.choices)
    # The feed's code when a source system asked for the shield.
    source_system = models.CharField(max_length=40, blank=True)
    decided_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as well as the link, so that the decision outlives the officer's account.
    decided_by_username = models.CharField(max_length=150, blank=True)
    review_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-decided_at", "-pk"]
        get_latest_by = ["decided_at", "pk"]
        indexes = [
            models.Index(fields=["child", "decided_at"], name="shielding_decision_child"),
        ]
        constraints = [
            # A shield always has a reason and a review date; an unshield has neither.
            models.CheckConstraint(
                name="shielding_decision_shape",
                condition=(
                    Q(kind__in=[DecisionKind.SHIELD, DecisionKind.CONFIRM])
                    & ~Q(reason="")
                    & Q(review_on__isnull=False)
                )
                | (Q(kind=DecisionKind.UNSHIELD) & Q(reason="") & Q(review_on__isnull=True)),
            ),
            # Officers give one of the officer reasons and are named; a source system only
            # ever shields, with its flag as the reason, pending an officer's review.
            models.CheckConstraint(
                name="shielding_decision_source",
                condition=(
                    Q(source=DecisionSource.OFFICER)
                    & ~Q(decided_by_username="")
                    & (Q(reason__in=list(OFFICER_REASONS)) | Q(kind=DecisionKind.UNSHIELD))
                )
                | (
                    Q(source=DecisionSource.SOURCE_SYSTEM)
                    & Q(kind=DecisionKind.SHIELD)
                    & Q(reason=ShieldingReason.SOURCE_FLAG)
                    & ~Q(source_system="")
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.contactpoint_id} ({self.decided_at:%Y-%m-%d})"

    @property
    def keeps_shield(self) -> bool:
        return self.kind != DecisionKind.UNSHIELD

    @property
    def is_precaution(self) -> bool:
        """Matching's precaution (shielding.services.shield_as_precaution), not a flag or an officer's."""
        return (
            self.source == DecisionSource.SOURCE_SYSTEM
            and self.justification == PRECAUTION_JUSTIFICATION
        )


class ShieldingRequest(models.Model):
    """A request to shield a child, from a parent, the young person or a practitioner.

    Worked like a case by the LA's shielding officers: open, then decided (shielded, with the
    decision it led to, or not shielded, with a note saying why).
    """

    local_authority = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="shielding_requests")
    contactpoint_id = models.CharField(max_length=ID_LENGTH)
    requester_kind = models.CharField(max_length=20, choices=RequesterKind.choices)
    # Who asked, as the officer recorded it (blank when a practitioner asked in ContactPoint).
    requester_name = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=NOTE_LENGTH)
    suggested_reason = models.CharField(max_length=24, choices=ShieldingReason.choices, blank=True)
    # The practitioner who asked in ContactPoint, or the officer who recorded the request.
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_by_username = models.CharField(max_length=150)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=12, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_username = models.CharField(max_length=150, blank=True)
    decision = models.ForeignKey(
        ShieldingDecision, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome_note = models.CharField(max_length=NOTE_LENGTH, blank=True)

    class Meta:
        ordering = ["received_at", "pk"]
        indexes = [
            models.Index(
                fields=["local_authority", "status", "received_at"], name="shielding_request_queue"
            )
        ]
        constraints = [
            models.CheckConstraint(
                name="shielding_request_decided",
                condition=(Q(status=RequestStatus.OPEN) & Q(decided_at__isnull=True))
                | (~Q(status=RequestStatus.OPEN) & Q(decided_at__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return f"shielding request {self.pk} ({self.get_status_display()})"


class ContactRequest(models.Model):
    """Brokered contact: someone who found a shielded child asks the LA's team to pass on
    their details to the people working with the child. Nobody is told where the child is."""

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="contact_requests")
    contactpoint_id = models.CharField(max_length=ID_LENGTH)
    # The ContactPoint team that brokers it: the child's LA when the request was made.
    local_authority = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requester_username = models.CharField(max_length=150)
    requester_name = models.CharField(max_length=150)
    requester_organisation = models.CharField(max_length=120)
    # The details the team passes on, so that the people working with the child can call back.
    reply_phone = models.CharField(max_length=20, validators=[validate_uk_phone])
    reply_email = models.EmailField(max_length=120, blank=True)
    message = models.CharField(max_length=NOTE_LENGTH)
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=12, choices=ContactRequestStatus.choices, default=ContactRequestStatus.OPEN
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_by_username = models.CharField(max_length=150, blank=True)
    outcome_note = models.CharField(max_length=NOTE_LENGTH, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]
        indexes = [
            models.Index(
                fields=["local_authority", "status", "requested_at"], name="contact_request_queue"
            )
        ]
        constraints = [
            models.CheckConstraint(
                name="contact_request_handled",
                condition=(Q(status=ContactRequestStatus.OPEN) & Q(handled_at__isnull=True))
                | (~Q(status=ContactRequestStatus.OPEN) & Q(handled_at__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return f"contact request {self.pk} ({self.get_status_display()})"


class BreakGlassGrant(models.Model):
    """One reveal of one shielded record to one person, for one view, with a typed reason.

    Granted after the warning, which alerts the LA's shielding and security officers at once
    (access.Alert, where they investigate it); spent by the single view it allows (`used_at`);
    worthless after `expires_at`. The reference in the view's address is random, so a grant
    cannot be guessed, and it is bound to the person it was granted to.
    """

    reference = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    username = models.CharField(max_length=150)
    organisation_code = models.CharField(max_length=40, blank=True)
    child = models.ForeignKey(
        Child, on_delete=models.SET_NULL, null=True, related_name="break_glass_grants"
    )
    contactpoint_id = models.CharField(max_length=ID_LENGTH)
    local_authority = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=BREAK_GLASS_REASON_MAX_LENGTH)
    purpose = models.CharField(max_length=200)
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-pk"]
        indexes = [
            models.Index(fields=["local_authority", "granted_at"], name="break_glass_la"),
        ]
        constraints = [
            models.CheckConstraint(
                name="break_glass_expires_after_grant",
                condition=Q(expires_at__gt=models.F("granted_at")),
            ),
            models.CheckConstraint(
                name="break_glass_used_in_time",
                condition=Q(used_at__isnull=True) | Q(used_at__gte=models.F("granted_at")),
            ),
        ]

    def __str__(self) -> str:
        return f"break-glass {self.pk} by {self.username} on {self.contactpoint_id}"

    @property
    def is_used(self) -> bool:
        return self.used_at is not None
