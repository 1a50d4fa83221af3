"""Writing audit events: one function, called inside the transaction of the act it records."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from contactpoint.audit.models import AuditChainHead, AuditEvent


class AuditUnavailable(RuntimeError):
    """The audit log could not be written, so the act it would record must not happen."""


def canonical_payload(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers: every field but the hash itself, in a fixed order."""
    body = {
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.isoformat(),
        "action": event.action,
        "outcome": event.outcome,
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "organisation_code": event.organisation_code,
        "purpose": event.purpose,
        "subject_contactpoint_id": event.subject_contactpoint_id,
        "ip_address": event.ip_address,
        "detail": event.detail,
        "previous_hash": event.previous_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    """The SHA-256 of the event's canonical payload, as 64 hex digits."""
    return hashlib.sha256(canonical_payload(event)).hexdigest()


def _locked_chain_head() -> AuditChainHead:
    """The chain head, locked; created first if missing (migration 0002 normally makes it).

    INSERT ... ON CONFLICT DO NOTHING rather than get_or_create, so that two processes that
    both find no head (an emptied test database) cannot both insert one and fail.
    """
    head = AuditChainHead.objects.select_for_update().filter(id=1).first()
    if head is None:
        AuditChainHead.objects.bulk_create([AuditChainHead(id=1)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(id=1)
    return head


def record_event(
    *,
    action: str,
    outcome: str = "ok",
    actor_id: int | None = None,
    actor_username: str = "",
    organisation_code: str = "",
    purpose: str = "",
    subject_contactpoint_id: str = "",
    ip_address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (fail closed: errors raise).

    The chain head row is locked FOR UPDATE until the caller's transaction ends, so
    concurrent writers (threads or processes) append strictly one after another.
    """
    # No savepoint: inside the caller's transaction a failure here must fail the whole act
    # anyway, and savepoints would cost two more round trips on every search and view.
    with transaction.atomic(savepoint=False):
        head = _locked_chain_head()
        event = AuditEvent(
            sequence=head.sequence + 1,
            occurred_at=timezone.now(),
            action=action,
            outcome=outcome,
            actor_id=actor_id,
            actor_username=actor_username,
            organisation_code=organisation_code,
            purpose=purpose[:200],
            subject_contactpoint_id=subject_contactpoint_id,
            ip_address=ip_address,
            detail=json.loads(json.dumps(detail or {}, default=str)),
            previous_hash=head.hash,
        )
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(id=1).update(sequence=event.sequence, hash=event.hash)
    return event
