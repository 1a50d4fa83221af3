"""Writing audit events: one function, called inside the transaction of the act it records."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from contactpoint import prepared_sql
from contactpoint.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent


class AuditUnavailable(RuntimeError):
    """The audit log could not be written, so the act it would record must not happen."""


def _canonical_body(event: AuditEvent) -> dict[str, Any]:
    return {
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


def _canonical_text(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def canonical_payload(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers: every field but the hash itself, in a fixed order."""
    return _canonical_text(_canonical_body(event)).encode()


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


# --- PostgreSQL: the append in one statement, hashed by the database -------------------------
#
# Every search and record view writes an event, so the three ORM round trips of the portable
# path (lock the head, insert, move the head) were most of the audit write's cost. On
# PostgreSQL one statement locks the head, inserts the event after it and moves it, whoever
# wrote last: the event's canonical payload is sent in three pieces around the two values only
# the locked head knows (the previous hash and the sequence), and PostgreSQL's sha256 seals
# it. The bytes hashed are exactly canonical_payload's, so verify needs no second definition.
# Being one statement that needs no answer before the COMMIT, it can travel with the COMMIT
# (audited_transaction): the head is then locked for one round trip, not two.

_APPEND_SQL = (
    "WITH locked AS (SELECT sequence, hash FROM audit_auditchainhead WHERE id = 1 FOR UPDATE), "
    # No head row (an emptied database): the chain starts from genesis, and the head is made.
    "current AS (SELECT sequence, hash FROM locked UNION ALL "
    "SELECT 0, %s WHERE NOT EXISTS (SELECT 1 FROM locked)), "
    "head AS (SELECT sequence + 1 AS sequence, hash AS previous_hash, "
    "encode(sha256(convert_to(%s || hash || %s || (sequence + 1)::text || %s, 'UTF8')), 'hex') "
    "AS hash FROM current), "
    "moved AS (INSERT INTO audit_auditchainhead (id, sequence, hash) "
    "SELECT 1, sequence, hash FROM head "
    "ON CONFLICT (id) DO UPDATE SET sequence = EXCLUDED.sequence, hash = EXCLUDED.hash) "
    "INSERT INTO audit_auditevent (sequence, occurred_at, action, outcome, actor_id, "
    "actor_username, organisation_code, purpose, subject_contactpoint_id, ip_address, detail, "
    "previous_hash, hash) SELECT head.sequence, %s, %s, %s, %s::bigint, %s, %s, %s, %s, "
    "%s::inet, %s::jsonb, head.previous_hash, head.hash FROM head "
    "RETURNING id, sequence, previous_hash, hash"
)
# Locks the chain head, making it first if it is missing (an emptied database): a DO UPDATE
# whose WHERE is false updates nothing but still locks the row it finds.
_LOCK_HEAD_SQL = (
    "INSERT INTO audit_auditchainhead (id, sequence, hash) VALUES (1, 0, %s) "
    "ON CONFLICT (id) DO UPDATE SET sequence = EXCLUDED.sequence WHERE FALSE"
)

# Stand-ins for the values the database fills in; an event whose own text contains one (a
# search for it, say) is written by the portable path instead.
_PREVIOUS_HASH_SLOT = "\u2063previous-hash\u2063"
_SEQUENCE_SLOT = "\u2063sequence\u2063"
_ROW_ID_SLOT = "\u2063row-id\u2063"
_ORGANISATION_SLOT = "\u2063organisation\u2063"

# The same append, for an event about a row that another statement inserts in it, if it does
# (an alert that a lookup raises, say, unless it was raised already): the row's id goes into
# the event's detail and its organisation's code into the event, both known only once the row
# is in, so the database splices them into the hashed text as it does the head's two values.
# No row inserted, no event. The inserting statement must return at most one row, with
# columns id, organisation_id and organisation_code. The code is spliced as PostgreSQL's JSON
# text, which is Python's for ASCII; organisation codes are ASCII (access.models), and any
# other code leaves the hash NULL, which the column refuses: the act fails, it never chains an
# event that would not verify.
_APPEND_AFTER_INSERT_SQL = (
    "WITH inserted AS ({insert}), "
    "locked AS (SELECT sequence, hash FROM audit_auditchainhead WHERE id = 1 FOR UPDATE), "
    "current AS (SELECT sequence, hash FROM locked UNION ALL "
    "SELECT 0, %s WHERE NOT EXISTS (SELECT 1 FROM locked)), "
    "head AS (SELECT c.sequence + 1 AS sequence, c.hash AS previous_hash, i.id AS row_id, "
    "i.organisation_id, i.organisation_code, "
    "encode(sha256(convert_to(%s || i.id::text || %s || CASE WHEN "
    "octet_length(i.organisation_code) = char_length(i.organisation_code) THEN "
    "to_json(i.organisation_code::text)::text END || %s || c.hash || %s || "
    "(c.sequence + 1)::text || %s, 'UTF8')), 'hex') AS hash FROM current c, inserted i), "
    "moved AS (INSERT INTO audit_auditchainhead (id, sequence, hash) "
    "SELECT 1, sequence, hash FROM head "
    "ON CONFLICT (id) DO UPDATE SET sequence = EXCLUDED.sequence, hash = EXCLUDED.hash) "
    "INSERT INTO audit_auditevent (sequence, occurred_at, action, outcome, actor_id, "
    "actor_username, organisation_code, purpose, subject_contactpoint_id, ip_address, detail, "
    "previous_hash, hash) SELECT head.sequence, %s, %s, %s, %s::bigint, %s, "
    "head.organisation_code, %s, %s, %s::inet, jsonb_set(%s::jsonb, %s::text[], "
    "to_jsonb(head.row_id)), head.previous_hash, head.hash FROM head "
    "RETURNING id, sequence, previous_hash, hash, "
    "(SELECT row_id FROM head), (SELECT organisation_id FROM head), organisation_code"
)


def _new_event(
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
    return AuditEvent(
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
    event = _new_event(
        action=action,
        outcome=outcome,
        actor_id=actor_id,
        actor_username=actor_username,
        organisation_code=organisation_code,
        purpose=purpose,
        subject_contactpoint_id=subject_contactpoint_id,
        ip_address=ip_address,
        detail=detail,
    )
    # No savepoint: inside the caller's transaction a failure here must fail the whole act
    # anyway, and savepoints would cost two more round trips on every search and view.
    with transaction.atomic(savepoint=False):
        params = _append_params(event) if connection.vendor == "postgresql" else None
        if params is not None:
            _appended(event, prepared_sql.fetch_all(_APPEND_SQL, params)[0])
        else:
            _append_portably(event)
    return event


def _append_portably(event: AuditEvent) -> None:
    head = _locked_chain_head()
    _chain(event, head.sequence, head.hash)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(id=1).update(sequence=event.sequence, hash=event.hash)


def _chain(event: AuditEvent, previous_sequence: int, previous_hash: str) -> None:
    """Place the event after the given head and seal it with its hash."""
    event.sequence = previous_sequence + 1
    event.previous_hash = previous_hash
    event.hash = compute_hash(event)


def _split_at(text: str, slots: list[str]) -> list[str] | None:
    """The text cut at each slot, or None unless each is in it once, in this order."""
    if any(text.count(slot) != 1 for slot in slots):
        return None
    pieces = []
    for slot in slots:
        before, found, text = text.partition(slot)
        if not found:  # it came before the previous slot
            return None
        pieces.append(before)
    return [*pieces, text]


def _event_params(event: AuditEvent) -> list[Any]:
    return [
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
    ]


def _append_params(event: AuditEvent) -> list[Any] | None:
    """_APPEND_SQL's parameters for the event; None if its text holds one of the slots."""
    body = _canonical_body(event)
    body["previous_hash"] = _PREVIOUS_HASH_SLOT
    body["sequence"] = _SEQUENCE_SLOT
    # Keys are sorted: previous_hash comes before sequence. The hash's slot is inside a JSON
    # string (escaped, as it appears); the sequence's replaces the quotes too (a number).
    pieces = _split_at(
        _canonical_text(body),
        [json.dumps(_PREVIOUS_HASH_SLOT)[1:-1], json.dumps(_SEQUENCE_SLOT)],
    )
    if pieces is None:
        return None
    return [GENESIS_HASH, *pieces, *_event_params(event)]


def _append_after_insert_params(event: AuditEvent, id_key: str) -> list[Any] | None:
    """_APPEND_AFTER_INSERT_SQL's parameters after the insert's; None if they cannot be."""
    if not isinstance(event.detail, dict) or id_key in event.detail:
        return None
    body = _canonical_body(event)
    body["detail"] = {**event.detail, id_key: _ROW_ID_SLOT}
    body["organisation_code"] = _ORGANISATION_SLOT
    body["previous_hash"] = _PREVIOUS_HASH_SLOT
    body["sequence"] = _SEQUENCE_SLOT
    # In key order: detail, organisation_code, previous_hash, sequence. The id, the code and
    # the sequence replace their quotes (a number, and a JSON string the database quotes).
    pieces = _split_at(
        _canonical_text(body),
        [
            json.dumps(_ROW_ID_SLOT),
            json.dumps(_ORGANISATION_SLOT),
            json.dumps(_PREVIOUS_HASH_SLOT)[1:-1],
            json.dumps(_SEQUENCE_SLOT),
        ],
    )
    if pieces is None:
        return None
    fields = _event_params(event)
    del fields[5]  # the organisation's code: the inserted row's
    return [GENESIS_HASH, *pieces, *fields, [id_key]]


def _appended(event: AuditEvent, row: tuple[Any, ...]) -> None:
    """Fill in what the database chose for an event written by _APPEND_SQL."""
    event_id, sequence, previous_hash, event_hash = row
    event.pk = int(event_id)
    event.sequence = int(sequence)
    event.previous_hash = str(previous_hash)
    event.hash = str(event_hash)
    event._state.adding = False
    event._state.db = connection.alias


# --- A lookup's transaction, ending with its event ------------------------------------------------


@dataclass
class _PendingAppend:
    """A statement appending one event, to be sent with the act's COMMIT."""

    event: AuditEvent
    sql: str
    params: list[Any]
    # For an event about a row the statement inserts (_APPEND_AFTER_INSERT_SQL): told the
    # row's (id, organisation id, organisation code) once written; no row, no event.
    on_inserted: Callable[[tuple[int, int, str]], None] | None = None
    id_key: str = ""


class AuditedTransaction:
    """The transaction of one audited act; see audited_transaction."""

    def __init__(self, *, deferred: bool) -> None:
        self._deferred = deferred
        self.pending: list[_PendingAppend] = []

    def record(
        self,
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
    ) -> None:
        """Record the act's event, as record_event does; written by the time the block ends."""
        fields: dict[str, Any] = {
            "action": action,
            "outcome": outcome,
            "actor_id": actor_id,
            "actor_username": actor_username,
            "organisation_code": organisation_code,
            "purpose": purpose,
            "subject_contactpoint_id": subject_contactpoint_id,
            "ip_address": ip_address,
            "detail": detail,
        }
        if self._deferred:
            event = _new_event(**fields)
            params = _append_params(event)
            if params is not None:
                self.pending.append(_PendingAppend(event, _APPEND_SQL, params))
                return
        record_event(**fields)

    def record_after_insert(
        self,
        *,
        insert_sql: str,
        insert_params: list[Any],
        id_key: str,
        on_inserted: Callable[[tuple[int, int, str]], None],
        **fields: Any,
    ) -> bool:
        """Queue a row's INSERT and the event recording it, to be sent with the COMMIT.

        See record_event_of_insert, which calls this.
        """
        if not self._deferred:
            return False
        event = _new_event(**{**fields, "organisation_code": ""})
        params = _append_after_insert_params(event, id_key)
        if params is None:
            return False
        self.pending.append(
            _PendingAppend(
                event,
                _APPEND_AFTER_INSERT_SQL.format(insert=insert_sql),
                [*insert_params, *params],
                on_inserted=on_inserted,
                id_key=id_key,
            )
        )
        return True


# The deferring AuditedTransaction of this thread's open act, if any (Django's connections are
# per thread, so is this).
_open_act = threading.local()


def record_event_of_act(**fields: Any) -> None:
    """Record an event that is part of the act in progress (an alert its lookup raised, say).

    Inside audited_transaction's deferring block, and in no savepoint of it (which could roll
    back without the act), the event joins the act's own and goes with the COMMIT, in the
    order recorded: no round trip now, and the chain head stays unlocked until then. Anywhere
    else it is written at once, by record_event. Takes record_event's arguments.
    """
    act = _act_to_join()
    if act is not None:
        act.record(**fields)
        return
    record_event(**fields)


def _act_to_join() -> AuditedTransaction | None:
    act: AuditedTransaction | None = getattr(_open_act, "act", None)
    return act if act is not None and not any(connection.savepoint_ids) else None


def record_event_of_insert(
    *,
    insert_sql: str,
    insert_params: list[Any],
    id_key: str,
    on_inserted: Callable[[tuple[int, int, str]], None],
    **fields: Any,
) -> bool:
    """Send a row's INSERT, and the event that records it, with the act's COMMIT; or say no.

    For a row that the act in progress may insert (an alert its lookup raises, unless it is
    raised already): `insert_sql` is an INSERT ... RETURNING id, organisation_id,
    organisation_code that inserts at most one row. If it inserts one, the event (record_event's
    other arguments) is appended with the row's id as detail[id_key] and its organisation's
    code as the event's, and `on_inserted((id, organisation id, code))` is called once both are
    committed. If it inserts none, neither is written. The act's own events and this go in the
    order recorded, in the COMMIT's round trip.

    False, doing nothing, where record_event_of_act would write at once (outside a deferring
    act, or in a savepoint of it) or the event's text holds one of the stand-ins: the caller
    then inserts the row and records its event itself.
    """
    act = _act_to_join()
    if act is None:
        return False
    return act.record_after_insert(
        insert_sql=insert_sql,
        insert_params=insert_params,
        id_key=id_key,
        on_inserted=on_inserted,
        **fields,
    )


@contextmanager
def audited_transaction() -> Iterator[AuditedTransaction]:
    """transaction.atomic() for an act that ends by recording its event (`.record(...)`).

    On PostgreSQL, as the outermost transaction, the event is sent with the COMMIT in one
    round trip (psycopg's pipeline mode): a search or view writes one event, so this saves a
    round trip on every lookup and holds the chain head's lock half as long. The event is
    still in the act's transaction: if its INSERT fails, the COMMIT is a ROLLBACK and the
    error is raised (DatabaseError, as from record_event). Anywhere else, and for an event
    the statement cannot carry, `.record` writes at once, exactly as record_event. Events of
    the act recorded deeper down (record_event_of_act), and rows inserted with their event
    (record_event_of_insert: the alerts a lookup raises), travel with it the same way.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic():
            yield AuditedTransaction(deferred=False)
        return
    block = transaction.atomic()
    block.__enter__()
    audited = AuditedTransaction(deferred=True)
    _open_act.act = audited
    try:
        yield audited
    except BaseException as error:
        block.__exit__(type(error), error, error.__traceback__)
        raise
    finally:
        _open_act.act = None
    if not audited.pending:
        block.__exit__(None, None, None)
        return
    _commit_with_events(block, audited.pending)


def _commit_with_events(block: Any, pending: list[_PendingAppend]) -> None:
    """End the transaction: its events and the COMMIT in one round trip, then the block."""
    try:
        cursors = _send_events_and_commit(pending)
    except BaseException as error:
        block.__exit__(type(error), error, error.__traceback__)
        raise
    # The server has committed: Django's COMMIT finds the transaction ended and sends nothing,
    # then runs the on_commit callbacks.
    block.__exit__(None, None, None)
    for append, cursor in zip(pending, cursors, strict=True):
        row = cursor.fetchone()
        cursor.close()
        if append.on_inserted is None:
            if row is None:  # cannot happen: _APPEND_SQL inserts one row or fails
                raise AuditUnavailable("an audit event was not written")
            _appended(append.event, row)
        elif row is not None:  # the row was inserted, and its event with it
            row_id, organisation_id, organisation_code = row[4:]
            append.event.detail = {**append.event.detail, append.id_key: int(row_id)}
            append.event.organisation_code = str(organisation_code)
            _appended(append.event, row[:4])
            append.on_inserted((int(row_id), int(organisation_id), str(organisation_code)))


def _send_events_and_commit(pending: list[_PendingAppend]) -> list[Any]:
    """The events' INSERTs and COMMIT in one pipeline with one Sync; their cursors, answered.

    COMMIT goes as a statement: conn.commit() in a pipeline would sync on its own, then again
    on leaving it. If an INSERT fails the server skips the COMMIT, and the error is raised
    (as Django's DatabaseError) on leaving the pipeline.
    """
    import psycopg

    raw = connection.connection
    cursors = []
    with connection.wrap_database_errors, raw.pipeline():
        if any(append.on_inserted for append in pending):
            # The head first: two lookups raising the same alert then queue on it, and never
            # each hold what the other waits for (the alert's key, and the head).
            with psycopg.Cursor(raw) as locking:
                locking.execute(_LOCK_HEAD_SQL, [GENESIS_HASH], prepare=True)
        for append in pending:
            cursor = psycopg.Cursor(raw)
            cursor.execute(append.sql, append.params, prepare=True)
            cursors.append(cursor)
        with psycopg.Cursor(raw) as committing:
            committing.execute("COMMIT")
    return cursors
