"""Reading the audit log: verifying the chain, and the events about a child or a person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from django.db import connection
from django.db.models import Q, QuerySet

from contactpoint.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from contactpoint.audit.services import compute_hash

# How far from its stored position to look for the sequence an event was written under,
# to tell "moved" (reordered) from "edited" (modified). Wider costs only on a broken chain.
_REORDER_WINDOW = 64
_CHUNK = 5_000


class Tampering(StrEnum):
    MODIFIED = "modified"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"


@dataclass(frozen=True)
class ChainProblem:
    """The first place the chain does not hold, and what most probably happened there."""

    kind: Tampering
    sequence: int
    message: str


@dataclass(frozen=True)
class ChainVerification:
    events_checked: int
    head_sequence: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def get_chain_head() -> AuditChainHead:
    """The recorded end of the chain (sequence 0 and the genesis hash for an empty log)."""
    return AuditChainHead.objects.filter(id=1).first() or AuditChainHead(id=1)


def _with_sequence(event: AuditEvent, sequence: int) -> AuditEvent:
    """A detached copy of the event as if it had been written under another sequence."""
    copy = AuditEvent(**{f.attname: getattr(event, f.attname) for f in event._meta.fields})
    copy.sequence = sequence
    return copy


def _written_as(event: AuditEvent) -> int | None:
    """The sequence number whose hash the event's stored hash matches, near where it is now."""
    for offset in range(1, _REORDER_WINDOW + 1):
        for candidate in (event.sequence - offset, event.sequence + offset):
            if candidate >= 1 and compute_hash(_with_sequence(event, candidate)) == event.hash:
                return candidate
    return None


def verify_chain(
    *,
    progress: Callable[[int], object] | None = None,
    start_sequence: int = 1,
    start_hash: str = GENESIS_HASH,
) -> ChainVerification:
    """Walk the whole log in sequence order and report the first break, if any.

    Each event must carry sequence n (no gaps), hash to its stored hash, and name the previous
    event's hash; the last must match the chain head. Streaming: memory stays constant.
    After retention pruning the log starts later: `start_sequence` and `start_hash` (the last
    pruned event's hash) come from the signed prune marker (audit.checkpoints).
    """
    head = get_chain_head()
    checked = 0
    expected = start_sequence
    previous_hash = start_hash
    hash_before_previous: str | None = None
    previous_sequence = start_sequence - 1

    def problem(kind: Tampering, sequence: int, message: str) -> ChainVerification:
        return ChainVerification(checked, head.sequence, ChainProblem(kind, sequence, message))

    events: Iterator[AuditEvent] = AuditEvent.objects.order_by("sequence").iterator(
        chunk_size=_CHUNK
    )
    upcoming = next(events, None)
    while upcoming is not None:
        event, upcoming = upcoming, next(events, None)
        checked += 1
        if progress is not None:
            progress(1)
        own_hash_holds = compute_hash(event) == event.hash
        links_back = event.previous_hash == previous_hash

        if event.sequence < expected:
            return problem(
                Tampering.INSERTED,
                event.sequence,
                f"event #{event.sequence} comes before the start of the chain: it was inserted",
            )
        if event.sequence > expected:
            original = None if own_hash_holds else _written_as(event)
            if original is not None:
                return problem(
                    Tampering.REORDERED,
                    event.sequence,
                    f"event #{event.sequence} was written as #{original}: the log was reordered",
                )
            missing = (
                f"#{expected}"
                if event.sequence == expected + 1
                else f"#{expected} to #{event.sequence - 1}"
            )
            return problem(Tampering.DELETED, expected, f"event {missing} is missing: deleted")
        if (
            not links_back
            and hash_before_previous is not None
            and (event.previous_hash == hash_before_previous)
        ):
            return problem(
                Tampering.INSERTED,
                previous_sequence,
                f"event #{previous_sequence} is not in the chain written at the time: "
                f"#{event.sequence} links past it, so it was inserted",
            )
        if not own_hash_holds:
            original = _written_as(event)
            if original is not None:
                return problem(
                    Tampering.REORDERED,
                    event.sequence,
                    f"event #{event.sequence} was written as #{original}: the log was reordered",
                )
            if upcoming is not None and upcoming.previous_hash == previous_hash:
                return problem(
                    Tampering.INSERTED,
                    event.sequence,
                    f"event #{event.sequence} is not in the chain written at the time: "
                    f"#{upcoming.sequence} links past it, so it was inserted",
                )
            return problem(
                Tampering.MODIFIED,
                event.sequence,
                f"event #{event.sequence} no longer matches its hash: it was modified",
            )
        if not links_back:
            if AuditEvent.objects.filter(hash=event.previous_hash).exists():
                return problem(
                    Tampering.REORDERED,
                    event.sequence,
                    f"event #{event.sequence} does not follow #{previous_sequence}: "
                    "the log was reordered",
                )
            return problem(
                Tampering.MODIFIED,
                previous_sequence,
                f"event #{event.sequence} does not link to #{previous_sequence}: "
                f"#{previous_sequence} was replaced or modified and re-hashed",
            )
        hash_before_previous, previous_hash = previous_hash, event.hash
        previous_sequence = event.sequence
        expected += 1

    last = expected - 1
    if last < head.sequence:
        missing = (
            f"#{head.sequence}" if head.sequence == last + 1 else f"#{last + 1} to #{head.sequence}"
        )
        return problem(
            Tampering.DELETED, last + 1, f"event {missing} (the end of the log) is missing: deleted"
        )
    if last > head.sequence:
        return problem(
            Tampering.INSERTED,
            head.sequence + 1,
            f"event #{head.sequence + 1} is beyond the recorded end of the chain: it was inserted",
        )
    if previous_hash != head.hash:
        return problem(
            Tampering.MODIFIED,
            last,
            f"event #{last} does not match the chain head: it was replaced and re-hashed",
        )
    return ChainVerification(checked, head.sequence, None)


def events_about_child(contactpoint_id: str) -> QuerySet[AuditEvent]:
    """Every event naming this child, newest first ("who viewed this child" reports).

    An event names a child as its subject (a record view, an alert) or in the IDs it
    disclosed, `detail["returned"]` (a search whose results listed the child: a result row
    already shows the name, date of birth and district). PostgreSQL finds the latter through
    the GIN index of migration 0003; SQLite, the demo database, reads the list as text.
    """
    if connection.vendor == "postgresql":
        listed = Q(detail__returned__contains=[contactpoint_id])
    else:
        listed = Q(detail__returned__icontains=f'"{contactpoint_id}"')
    return AuditEvent.objects.filter(Q(subject_contactpoint_id=contactpoint_id) | listed).order_by(
        "-occurred_at", "-sequence"
    )


def events_by_actor(
    actor_id: int, *, since: dt.datetime | None = None, action: str = ""
) -> QuerySet[AuditEvent]:
    """A person's events, newest first, optionally since a time and of one action."""
    events = AuditEvent.objects.filter(actor_id=actor_id)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if action:
        events = events.filter(action=action)
    return events.order_by("-occurred_at", "-sequence")
