"""Source systems, their loads and per-row outcomes, the reports they sent, and the review queue.

Models keep integrity (unique keys, constraints); the workflows are in services.py, loading.py
and review.py, and every decision a person takes is audited there.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contactpoint.access.models import Organisation, User
from contactpoint.feeds.schema import RecordPart
from contactpoint.index.models import Child, LocalAuthority

SOURCE_CODE = RegexValidator(
    r"^[a-z0-9][a-z0-9_\-]*$", "A source system code is lower-case letters, digits, - and _"
)


class SourceSystemKind(models.TextChoices):
    LA_EDUCATION = "la_education", "Local authority education"
    LA_SOCIAL_CARE = "la_social_care", "Local authority social care"
    SCHOOL_CENSUS = "school_census", "School census"
    HEALTH_REGISTRATION = "health_registration", "Health registration"
    YOUTH_OFFENDING = "youth_offending", "Youth offending"
    CONNEXIONS = "connexions", "Connexions"
    CHILD_BENEFIT = "child_benefit", "Child benefit"


class SourceSystem(models.Model):
    """A system registered by the national team to send records of children (issue 5, item 1).

    Its credential is a random token shown once at registration; only a SHA-256 digest is kept
    (256 random bits need no slow hash), so a stolen table gives no usable credential.
    """

    code = models.CharField(max_length=40, unique=True, validators=[SOURCE_CODE])
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=24, choices=SourceSystemKind.choices)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="source_systems"
    )
    allowed_parts = models.JSONField(
        default=list, help_text="Which parts of the record it may supply (feeds.schema.RecordPart)"
    )
    credential_digest = models.CharField(max_length=64, blank=True)
    credential_prefix = models.CharField(max_length=12, blank=True)
    is_active = models.BooleanField(default=True)
    registered_at = models.DateTimeField(default=timezone.now)
    registered_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def may_supply(self, part: str) -> bool:
        return part == RecordPart.CHILD or part in self.allowed_parts


class LoadStatus(models.TextChoices):
    RUNNING = "running", "Running (or interrupted: run it again to resume)"
    COMPLETED = "completed", "Completed"


class LoadChannel(models.TextChoices):
    COMMAND = "command", "contactpoint feeds load"
    API = "api", "API"


class FeedLoad(models.Model):
    """One delivery of one file (or API batch) from a source system.

    `lines_done` advances in the same transaction as the rows it covers, so after a crash the
    next run of the same file (same SHA-256) carries on from there: nothing twice, nothing lost.
    """

    source = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="loads")
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(default=0)
    format = models.CharField(max_length=8)
    channel = models.CharField(max_length=8, choices=LoadChannel.choices)
    status = models.CharField(max_length=12, choices=LoadStatus.choices, default=LoadStatus.RUNNING)
    received_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    lines_done = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_linked = models.PositiveIntegerField(default=0)
    rows_review = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    started_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["source", "file_sha256"], name="load_source_file")]

    def __str__(self) -> str:
        return f"load {self.pk} of {self.file_name} from {self.source_id}"

    @property
    def rows_total(self) -> int:
        return (
            self.rows_new
            + self.rows_linked
            + self.rows_review
            + self.rows_unchanged
            + self.rows_rejected
        )


class RowOutcome(models.TextChoices):
    NEW = "new", "New child"
    LINKED = "linked", "Linked to a child"
    REVIEW = "review", "Sent to review"
    UNCHANGED = "unchanged", "Unchanged"
    REJECTED = "rejected", "Rejected"


class LoadRow(models.Model):
    """One line of the load report: what happened to one row, written with the row's effect."""

    # No index of its own: one_outcome_per_line (load, line) serves every lookup by load.
    load = models.ForeignKey(
        FeedLoad, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    line = models.PositiveIntegerField()
    source_record_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10, choices=RowOutcome.choices)
    contactpoint_id = models.CharField(max_length=12, blank=True)
    match_weight = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["load", "line"]
        constraints = [
            models.UniqueConstraint(fields=["load", "line"], name="one_outcome_per_line"),
        ]
        indexes = [models.Index(fields=["load", "source_record_id"], name="loadrow_record")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.outcome}"


class SourceRecordState(models.TextChoices):
    LINKED = "linked", "Part of a child's record"
    IN_REVIEW = "in_review", "Waiting for a data-quality officer"
    WITHDRAWN = "withdrawn", "Withdrawn by the source"


class SourceRecord(models.Model):
    """The latest report of one source record, and which child it is part of.

    `report` is the validated record as JSON (the NHS number only as its keyed hash); it is
    what a child's record is rebuilt from, and what a data-quality officer compares.
    """

    # No index of its own: one_record_per_source_id (source, source record ID) leads with it.
    source = models.ForeignKey(
        SourceSystem, on_delete=models.PROTECT, related_name="records", db_index=False
    )
    source_record_id = models.CharField(max_length=64)
    child = models.ForeignKey(
        Child, on_delete=models.CASCADE, null=True, blank=True, related_name="source_records"
    )
    state = models.CharField(max_length=10, choices=SourceRecordState.choices)
    content_hash = models.CharField(max_length=64)
    report = models.JSONField()
    nhs_hash = models.CharField(max_length=64, blank=True)
    match_weight = models.FloatField(null=True, blank=True)
    match_explanation = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    last_load = models.ForeignKey(
        FeedLoad, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_record_id"], name="one_record_per_source_id"
            ),
            models.CheckConstraint(
                condition=Q(state="in_review") | Q(child__isnull=False) | Q(state="withdrawn"),
                name="linked_record_has_child",
            ),
        ]
        indexes = [
            models.Index(fields=["nhs_hash"], name="source_record_nhs", condition=~Q(nhs_hash="")),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.source_record_id}"


class ReviewKind(models.TextChoices):
    INCOMING = "incoming", "Incoming record: which child is it?"
    POSSIBLE_DUPLICATE = "possible_duplicate", "Two children who may be one"


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Open"
    DECIDED = "decided", "Decided"


class ReviewDecision(models.TextChoices):
    LINKED = "linked", "Linked to an existing child"
    CREATED = "created", "Created as a new child"
    MERGED = "merged", "Merged the two children"
    DISTINCT = "distinct", "Kept apart: different children"


class ReviewItem(models.Model):
    """Work for the responsible LA's data-quality officers (issue 5, item 7)."""

    kind = models.CharField(max_length=20, choices=ReviewKind.choices)
    status = models.CharField(max_length=8, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    local_authority = models.ForeignKey(
        LocalAuthority, on_delete=models.PROTECT, related_name="review_items"
    )
    source_record = models.ForeignKey(
        SourceRecord, on_delete=models.CASCADE, null=True, blank=True, related_name="reviews"
    )
    child = models.ForeignKey(
        Child, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    other_child = models.ForeignKey(
        Child, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    candidates = models.JSONField(default=list)  # [{"child_id", "contactpoint_id", "explanation"}]
    reason = models.CharField(max_length=200)
    involves_shielded = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=ReviewDecision.choices, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["local_authority", "status"], name="review_la_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source_record"],
                condition=Q(status="open"),
                name="one_open_review_per_record",
            ),
        ]

    def __str__(self) -> str:
        return f"review {self.pk} ({self.kind}, {self.status})"


class SuspendedForeignKey(models.Model):
    """A foreign key the initial load dropped while it writes in bulk (feeds.constraints).

    Recorded in the transaction that drops it, so a load killed mid-bulk leaves the definition
    here for the next load to add back, validated against every row written meanwhile.
    """

    table = models.CharField(max_length=63)
    name = models.CharField(max_length=63)
    definition = models.TextField()  # pg_get_constraintdef, as PostgreSQL printed it
    suspended_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table", "name"], name="one_suspension_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.table}.{self.name}"
