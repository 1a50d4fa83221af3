"""The append-only, hash-chained audit log: the lowest layer, which every app may write to.

It holds no foreign keys, so that an event outlives the user, organisation or child it
mentions (DESIGN: audit entries outlive the records they mention).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

HASH_LENGTH = 64  # hex SHA-256
GENESIS_HASH = "0" * HASH_LENGTH  # the "previous hash" of event #1


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Refuses bulk update and delete, which would bypass AuditEvent.save()/delete().

    The database refuses them too (triggers in migration 0002); this stops them earlier
    with a clear message for a developer who tries.
    """

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("audit events are never changed once written")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are never deleted by the application")


class AuditEvent(models.Model):
    sequence = models.BigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    action = models.CharField(max_length=40, editable=False)
    outcome = models.CharField(max_length=20, default="ok", editable=False)
    actor_id = models.BigIntegerField(null=True, editable=False)
    actor_username = models.CharField(max_length=150, blank=True, editable=False)
    organisation_code = models.CharField(max_length=40, blank=True, editable=False)
    purpose = models.CharField(max_length=200, blank=True, editable=False)
    subject_contactpoint_id = models.CharField(max_length=12, blank=True, editable=False)
    ip_address = models.GenericIPAddressField(null=True, editable=False)
    detail = models.JSONField(default=dict, editable=False)
    previous_hash = models.CharField(max_length=HASH_LENGTH, editable=False)
    hash = models.CharField(max_length=HASH_LENGTH, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["actor_id", "occurred_at"], name="audit_actor_time"),
            models.Index(fields=["subject_contactpoint_id", "occurred_at"], name="audit_subject"),
            models.Index(fields=["action", "occurred_at"], name="audit_action_time"),
        ]
        # A constraint, not unique=True on the field: on PostgreSQL that also builds a second,
        # LIKE-pattern index on the hash, which no query uses and every event would update.
        constraints = [models.UniqueConstraint(fields=["hash"], name="audit_event_hash_unique")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_username or 'system'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("audit events are never changed once written")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are never deleted by the application")


class AuditChainHead(models.Model):
    """A single row holding the latest sequence and hash; locking it serialises writers.

    Writers take this row FOR UPDATE inside their own transaction, so concurrent processes
    append one after another and the chain can neither fork nor reorder.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=HASH_LENGTH, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="one_chain_head")]

    def __str__(self) -> str:
        return f"audit chain head at #{self.sequence}"
