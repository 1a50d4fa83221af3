"""Writing audit events: one function, called inside the transaction of the act it records."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from contactpoint import prepared_sql
from contactpoint.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent


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


# --- PostgreSQL: the append in one round trip when this process wrote the last event ----------
#
# Every search and record view writes an event, so the three ORM round trips of the portable
# path (lock the head, insert, move the head) were most of the audit write's cost. On
# PostgreSQL the event is written by one statement that locks the head (UPDATE takes the row
# lock FOR UPDATE would), moves it only if it still is where this process last left it, and
# inserts the event hashed against that head. Otherwise the same statement returns the head
# it locked (unchanged) and a second one writes the event against it: two round trips, still
# under the lock. The hash is computed in Python by compute_hash, exactly as verify does.

_APPEND_IF_HEAD_SQL = (
    "WITH head AS (UPDATE audit_auditchainhead SET "
    "sequence = CASE WHEN sequence = %s AND hash = %s THEN %s ELSE sequence END, "
    "hash = CASE WHEN sequence = %s AND hash = %s THEN %s ELSE hash END "
    "WHERE id = 1 RETURNING sequence, hash), "
    "event AS (INSERT INTO audit_auditevent (sequence, occurred_at, action, outcome, actor_id, "
    "actor_username, organisation_code, purpose, subject_contactpoint_id, ip_address, detail, "
    "previous_hash, hash) SELECT %s, %s, %s, %s, %s::bigint, %s, %s, %s, %s, %s::inet, %s::jsonb, %s, %s "
    "FROM head WHERE head.sequence = %s AND head.hash = %s RETURNING id) "
    "SELECT head.sequence, head.hash, (SELECT id FROM event) FROM head"
)
_APPEND_SQL = (
    "WITH moved AS (UPDATE audit_auditchainhead SET sequence = %s, hash = %s WHERE id = 1) "
    "INSERT INTO audit_auditevent (sequence, occurred_at, action, outcome, actor_id, "
    "actor_username, organisation_code, purpose, subject_contactpoint_id, ip_address, detail, "
    "previous_hash, hash) VALUES (%s, %s, %s, %s, %s::bigint, %s, %s, %s, %s, %s::inet, %s::jsonb, %s, %s) "
    "RETURNING id"
)
# Per database, where this process last moved the head: only ever a guess (see above).
_last_head: dict[str, tuple[int, str]] = {}


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
        event = AuditEvent(
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
        )
        if connection.vendor == "postgresql" and _append_on_postgresql(event):
            return event
        head = _locked_chain_head()
        _chain(event, head.sequence, head.hash)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(id=1).update(sequence=event.sequence, hash=event.hash)
    return event


def _chain(event: AuditEvent, previous_sequence: int, previous_hash: str) -> None:
    """Place the event after the given head and seal it with its hash."""
    event.sequence = previous_sequence + 1
    event.previous_hash = previous_hash
    event.hash = compute_hash(event)


def _event_values(event: AuditEvent) -> list[Any]:
    return [
        event.sequence,
        event.occurred_at,
        event.action,
        event.outcome,
        event.actor_id,
        event.actor_username,
        event.organisation_code,
        event.purpose,
        event.subject_contactpoint_id,
        event.ip_address,
        json.dumps(event.detail),
        event.previous_hash,
        event.hash,
    ]


def _append_on_postgresql(event: AuditEvent) -> bool:
    """Append the event with the head locked (see _APPEND_IF_HEAD_SQL); False if no head row."""
    settings = connection.settings_dict
    database = f"{connection.alias}:{settings['HOST']}:{settings['PORT']}:{settings['NAME']}"
    guess = _last_head.get(database, (0, GENESIS_HASH))
    _chain(event, *guess)
    new = (event.sequence, event.hash)
    rows = prepared_sql.fetch_all(
        _APPEND_IF_HEAD_SQL, [*guess, new[0], *guess, new[1], *_event_values(event), *new]
    )
    if not rows:
        return False  # no chain head row: the portable path creates it
    sequence, head_hash, event_id = rows[0]
    if event_id is None:  # another process wrote since: the head is locked now, append to it
        _chain(event, int(sequence), str(head_hash))
        rows = prepared_sql.fetch_all(
            _APPEND_SQL, [event.sequence, event.hash, *_event_values(event)]
        )
        event_id = rows[0][0]
    event.pk = int(event_id)
    event._state.adding = False
    event._state.db = connection.alias
    _last_head[database] = (event.sequence, event.hash)
    return True
