"""Loading a feed: read, validate, match and merge, one small batch per transaction.

The pipeline for each batch of rows (issue 5, item 3):

1. rows are read and validated outside any transaction (reading.py, validation.py);
2. in one transaction, under a lock that serialises matching across loaders, each row is
   compared with what the source sent before (unchanged? an update of a known record?) and, if
   new, matched against the index (matching.blocking + matching.model + matching.decisions);
3. the children it touches are rebuilt from their reports (index.linkage), and every row's
   outcome is written to the load report, with `lines_done`, in the same transaction.

So a crash leaves whole batches or nothing; the next run of the same file resumes after the
last whole batch; and a row already applied can never apply twice (its content hash is kept).
A batch that fails unexpectedly is retried row by row, so one bad row cannot stop a load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from contactpoint.audit.services import record_event
from contactpoint.feeds import reading
from contactpoint.feeds.constraints import restore_foreign_keys
from contactpoint.feeds.models import (
    FeedLoad,
    LoadChannel,
    LoadRow,
    LoadStatus,
    ReviewItem,
    ReviewKind,
    RowOutcome,
    SourceRecord,
    SourceRecordState,
    SourceSystem,
)
from contactpoint.feeds.precedence import current_precedence
from contactpoint.feeds.schema import EventType
from contactpoint.feeds.serialise import (
    encode_json,
    encode_report,
    record_from_json,
    record_to_json,
)
from contactpoint.feeds.validation import (
    NO_RESPONSIBLE_LA,
    ParsedRow,
    RowContext,
    RowRejected,
    parse_row,
)
from contactpoint.feeds.workers import forked_pool
from contactpoint.index import contactpoint_id as cp_ids
from contactpoint.index.linkage import (
    PART_MODELS,
    ChildWrite,
    FieldPrecedence,
    MergedChild,
    MergedChildWriter,
    ReferenceMaps,
    insert_rows,
    merge_reports,
    reserve_children,
)
from contactpoint.index.models import (
    Child,
    GpPractice,
    IssuedContactPointId,
    LocalAuthority,
    PostcodeDistrict,
    School,
)
from contactpoint.index.records import ChildRecord
from contactpoint.matching.blocking import (
    find_candidates,
    find_shielded,
    load_profiles,
    rule_between,
)
from contactpoint.matching.decisions import MatchDecision, Outcome, decide, score_candidates
from contactpoint.matching.features import MatchRecord
from contactpoint.matching.model import MatchModel, current_model
from contactpoint.matching.pending import PendingChildren
from contactpoint.matching.shield import ShieldNet
from contactpoint.shielding.selectors import shielded_only_as_a_precaution
from contactpoint.shielding.services import shield_as_precaution, shield_child
from contactpoint.shielding.vocabularies import DecisionSource

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
DEMO_NHS_NUMBER_KEY = "contactpoint-demo-nhs-number-key-not-for-production"
# Any constant works: it names the lock every loader takes around matching and merging.
_MATCH_LOCK_ID = 0x43504D41  # "CPMA"

ProgressCallback = Callable[[int, int], None]  # (last line done, bytes read so far)

# A new child that resembles a shielded one (matching/decisions.py, Outcome.NEW_SHIELDED).
PRECAUTION_REASON = "a new record resembles a shielded child: shielded as a precaution; one child?"
PRECAUTION_NOTE = "shielded as a precaution until a person compares it with a similar record"


class LoadRefused(Exception):
    """The load cannot start at all (inactive source, unreadable file)."""


def nhs_number_key() -> bytes:
    """The key for scrambling NHS numbers: CONTACTPOINT_NHS_NUMBER_KEY in production."""
    key = getattr(settings, "CONTACTPOINT_NHS_NUMBER_KEY", "") or ""
    if not key:
        if getattr(settings, "IS_PRODUCTION", False):
            raise ImproperlyConfigured(
                "CONTACTPOINT_NHS_NUMBER_KEY must be set in production: NHS numbers are "
                "scrambled with it and it must be the same for every load"
            )
        key = DEMO_NHS_NUMBER_KEY
    return key.encode("utf-8")


def file_digest(handle: BinaryIO) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 1 MiB blocks (it identifies a load for resuming)."""
    digest = hashlib.sha256()
    size = 0
    handle.seek(0)
    while block := handle.read(1 << 20):
        digest.update(block)
        size += len(block)
    handle.seek(0)
    return digest.hexdigest(), size


def row_context(source: SourceSystem, load: FeedLoad) -> RowContext:
    """Reference data for validating this source's rows, read once per load."""
    organisation = source.organisation
    la_code = ""
    if organisation.local_authority_id:
        la_code = LocalAuthority.objects.get(pk=organisation.local_authority_id).ons_code
    la_by_id = dict(LocalAuthority.objects.values_list("id", "ons_code"))
    return RowContext(
        source_code=source.code,
        allowed_parts=frozenset(source.allowed_parts),
        organisation_la_code=la_code,
        received_at=load.received_at,
        today=timezone.localdate(),
        nhs_key=nhs_number_key(),
        la_codes=frozenset(la_by_id.values()),
        district_la={
            code: la_by_id[la_id]
            for code, la_id in PostcodeDistrict.objects.values_list("code", "local_authority_id")
        },
        school_urns=frozenset(School.objects.values_list("urn", flat=True)),
        practice_codes=frozenset(GpPractice.objects.values_list("ods_code", flat=True)),
    )


# --- Per-row results ---------------------------------------------------------------------------


@dataclass
class RowResult:
    line: int
    source_record_id: str
    outcome: RowOutcome
    reason: str = ""
    child_key: int | None = None  # a child id, or a negative placeholder for a new child
    match_weight: float | None = None


@dataclass
class _BatchWork:
    """What one batch will write, collected before anything is written."""

    results: list[RowResult] = field(default_factory=list)
    new_records: list[SourceRecord] = field(default_factory=list)
    updated_records: list[SourceRecord] = field(default_factory=list)
    touched_children: set[int] = field(default_factory=set)
    new_children: dict[int, list[ChildRecord]] = field(default_factory=dict)
    reviews: list[tuple[SourceRecord, MatchDecision, int, bool]] = field(default_factory=list)
    staged: set[int] = field(default_factory=set)
    reports: dict[int, ChildRecord] = field(default_factory=dict)  # by id(SourceRecord)
    new_shielded: list[tuple[int, MatchRecord]] = field(default_factory=list)
    # Children (keys as in touched_children/new_children) for whom a source raised its
    # sensitive-record flag in this batch: a new record with the flag, or an update adding it.
    flag_raised: set[int] = field(default_factory=set)
    # New children shielded as a precaution (key -> the decision naming the shielded child
    # they resemble, and the LA whose officers are asked whether they are one child).
    precautions: dict[int, tuple[MatchDecision, int]] = field(default_factory=dict)


def linked_by_nhs_hash(hashes: Iterable[str]) -> QuerySet[SourceRecord, tuple[str, int]]:
    """(NHS hash, child id) of the source records with these scrambled NHS numbers.

    The index on nhs_hash leaves out records without one. PostgreSQL proves that an IN list
    implies `nhs_hash <> ''` only for up to 100 values, so a batch's list of several hundred
    fell back to reading the whole table (585 ms at a million records, against 10 ms): the
    condition is stated too.
    """
    return (
        SourceRecord.objects.filter(nhs_hash__in=list(hashes), child__isnull=False)
        .exclude(nhs_hash="")
        .values_list("nhs_hash", "child_id")
    )


def parse_raw_row(raw: reading.RawRow, context: RowContext) -> ParsedRow | RowResult:
    """Validate one row as read: a parsed row, or its rejection (no database access)."""
    if raw.error:
        return RowResult(raw.line, raw.source_record_id, RowOutcome.REJECTED, raw.error)
    try:
        return parse_row(raw.line, raw.values, context)
    except RowRejected as rejected:
        return RowResult(
            raw.line, raw.source_record_id, RowOutcome.REJECTED, "; ".join(rejected.reasons)
        )


ParsedBatch = tuple[list[ParsedRow | RowResult], dict[int, str]]
_parser_context: RowContext | None = None  # set in each parsing process by its initializer


def init_parsing_process(context: RowContext) -> None:
    global _parser_context
    _parser_context = context


def parse_batch_in_process(
    raws: list[reading.RawRow],
) -> tuple[list[ParsedRow | RowResult], dict[int, str]]:
    """Runs in a parsing process: validation touches no database, so it can run ahead.

    Each record's report is also encoded here (by line), as SourceRecord.report will store it,
    to spare the loading process that work too.
    """
    assert _parser_context is not None
    parsed = [parse_raw_row(raw, _parser_context) for raw in raws]
    encoded = {
        item.line: encode_report(item.record)
        for item in parsed
        if isinstance(item, ParsedRow) and item.record is not None
    }
    return parsed, encoded


class FeedLoader:
    """Loads rows for one source into the index. One instance per load.

    With `workers` > 1, rows are validated in `workers - 1` other processes, batches ahead of
    the one being matched: validation needs no database, while matching and merging stay in
    this one process and transaction per batch, so resuming and idempotence are unchanged.
    """

    def __init__(
        self,
        *,
        source: SourceSystem,
        load: FeedLoad,
        model: MatchModel | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = 1,
    ) -> None:
        self.source = source
        self.load = load
        self.model = model or current_model()
        self.batch_size = batch_size
        self.workers = max(1, workers)
        self._encoded_reports: dict[int, str] = {}  # this batch's reports as JSON, by line
        self.context = row_context(source, load)
        self.feed_sources = list(SourceSystem.objects.values_list("code", flat=True))
        self.precedence: FieldPrecedence = current_precedence()
        self.reference = ReferenceMaps()
        self.la_ids = dict(LocalAuthority.objects.values_list("ons_code", "id"))
        self.shield_net = ShieldNet()

    # --- the public loop ---------------------------------------------------------------------

    def run(
        self, rows: Iterable[reading.RawRow], progress: ProgressCallback | None = None
    ) -> FeedLoad:
        """Process every row after `lines_done`, batch by batch, then mark the load completed."""
        restore_foreign_keys()  # any that an initial load killed in its bulk write left off
        for batches, (raws, parsed, encoded) in enumerate(self._parsed_batches(rows), start=1):
            self._encoded_reports = encoded
            self._process(raws, parsed)
            self._refresh_statistics(batches)
            if progress:
                progress(raws[-1].line, 0)
        return self._finish()

    def _raw_batches(self, rows: Iterable[reading.RawRow]) -> Iterator[list[reading.RawRow]]:
        batch: list[reading.RawRow] = []
        for raw in rows:
            if raw.line <= self.load.lines_done:
                continue  # done before an interruption
            batch.append(raw)
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _parsed_batches(
        self, rows: Iterable[reading.RawRow]
    ) -> Iterator[tuple[list[reading.RawRow], list[ParsedRow | RowResult], dict[int, str]]]:
        """Batches in file order, each with its rows validated (in other processes if asked),
        and, from other processes, its reports already encoded as JSON (by line)."""
        if self.workers == 1:
            for raws in self._raw_batches(rows):
                yield raws, [parse_raw_row(raw, self.context) for raw in raws], {}
            return
        # Fork: the parsers inherit the loaded code and never touch the database connection.
        with forked_pool(
            self.workers - 1, initializer=init_parsing_process, initargs=(self.context,)
        ) as pool:
            # A bounded window of batches in flight keeps memory flat on a 2 GB file.
            window: deque[tuple[list[reading.RawRow], Future[ParsedBatch]]] = deque()
            for raws in self._raw_batches(rows):
                window.append((raws, pool.submit(parse_batch_in_process, raws)))
                if len(window) > self.workers:
                    done, future = window.popleft()
                    yield done, *future.result()
            while window:
                done, future = window.popleft()
                yield done, *future.result()

    def _refresh_statistics(self, batches: int) -> None:
        """ANALYZE the tables a load grows, after batches 1, 4, 16, 64...

        A first national load grows them from nothing; until the planner knows that, it picks
        plans for empty tables and every lookup slows as the index fills (and autovacuum, which
        would analyse them, may be off or far behind). Geometric spacing keeps the cost to a
        handful of ANALYZEs per load.
        """
        power_of_four = batches & (batches - 1) == 0 and batches.bit_length() % 2 == 1
        if connection.vendor != "postgresql" or not power_of_four:
            return
        models: tuple[type[Model], ...] = (
            *PART_MODELS,
            Child,
            IssuedContactPointId,
            SourceRecord,
            LoadRow,
            ReviewItem,
        )
        with connection.cursor() as cursor:
            # Only tables that changed by a fifth since their statistics were taken.
            cursor.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) "
                "AND (last_analyze IS NULL AND last_autoanalyze IS NULL "
                "OR n_mod_since_analyze > 0.2 * greatest(n_live_tup, 1000))",
                [[m._meta.db_table for m in models]],
            )
            stale = [row[0] for row in cursor.fetchall()]
            if stale:
                names = ", ".join(connection.ops.quote_name(t) for t in stale)
                cursor.execute(f"ANALYZE {names}")

    def _finish(self) -> FeedLoad:
        with transaction.atomic():
            load = FeedLoad.objects.select_for_update().get(pk=self.load.pk)
            load.status = LoadStatus.COMPLETED
            load.finished_at = timezone.now()
            load.save(update_fields=["status", "finished_at"])
            record_event(
                action="feeds.load_completed",
                actor_id=load.started_by_id,
                organisation_code=self.source.organisation.code,
                detail={
                    "load": load.pk,
                    "source": self.source.code,
                    "file": load.file_name,
                    "new": load.rows_new,
                    "linked": load.rows_linked,
                    "review": load.rows_review,
                    "unchanged": load.rows_unchanged,
                    "rejected": load.rows_rejected,
                },
            )
        self.load = load
        return load

    # --- one batch -----------------------------------------------------------------------------

    def _process(self, raws: list[reading.RawRow], parsed: list[ParsedRow | RowResult]) -> None:
        try:
            with transaction.atomic():
                self._apply(parsed, last_line=raws[-1].line)
        except Exception as error:
            # Something in this batch could not be processed or stored: find it by going row
            # by row, so that every other row still loads and the bad one is reported, not lost.
            # The error's own text is not logged: PostgreSQL's quotes the failing row, which can
            # be a shielded child's address (issue 7: no location detail in any log line).
            logger.error(
                "batch ending at line %s failed (%s); retrying row by row\n%s",
                raws[-1].line,
                type(error).__name__,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            for item, raw in zip(parsed, raws, strict=True):
                try:
                    with transaction.atomic():
                        self._apply([item], last_line=raw.line)
                except Exception as error:
                    failed = RowResult(
                        raw.line,
                        raw.source_record_id,
                        RowOutcome.REJECTED,
                        f"could not be stored ({type(error).__name__}); "
                        "please report it to the ContactPoint team",
                    )
                    with transaction.atomic():
                        self._apply([failed], last_line=raw.line)

    def _apply(self, items: Sequence[ParsedRow | RowResult], *, last_line: int) -> None:
        """Decide and write one batch; the caller holds the transaction."""
        self._lock()
        load = FeedLoad.objects.select_for_update().get(pk=self.load.pk)
        if last_line <= load.lines_done:
            return  # another run of this load got here first
        work = _BatchWork()
        rows = self._drop_duplicates(items, work)
        known = {
            r.source_record_id: r
            for r in SourceRecord.objects.filter(
                source=self.source, source_record_id__in=[p.source_record_id for p in rows]
            )
        }
        to_match: list[ParsedRow] = []
        for row in rows:
            existing = known.get(row.source_record_id)
            if existing is None or existing.state == SourceRecordState.WITHDRAWN:
                if row.event is EventType.WITHDRAW:
                    work.results.append(
                        RowResult(
                            row.line,
                            row.source_record_id,
                            RowOutcome.UNCHANGED,
                            "withdrawn, but ContactPoint holds no record with this ID",
                        )
                    )
                else:
                    to_match.append(row)
                continue
            self._known_record(row, existing, work)
        self._match(to_match, known, work)
        self._write(work, load, last_line)

    def _lock(self) -> None:
        """Serialise matching across concurrent loads, so two can't both create one child."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_MATCH_LOCK_ID])
        # SQLite: transactions are IMMEDIATE (settings), which already serialises writers.

    def _drop_duplicates(
        self, items: Sequence[ParsedRow | RowResult], work: _BatchWork
    ) -> list[ParsedRow]:
        """Reject a second row with a source record ID already seen in this file."""
        ids = [i.source_record_id for i in items if i.source_record_id]
        earlier = dict(
            LoadRow.objects.filter(load=self.load, source_record_id__in=ids)
            .values_list("source_record_id", "line")
            .order_by("-line")
        )
        rows: list[ParsedRow] = []
        for item in items:
            first = earlier.get(item.source_record_id) if item.source_record_id else None
            if first is not None and first != item.line:
                work.results.append(
                    RowResult(
                        item.line,
                        item.source_record_id,
                        RowOutcome.REJECTED,
                        f"duplicate source_record_id: already in this file at line {first}",
                    )
                )
                continue
            if item.source_record_id:
                earlier[item.source_record_id] = item.line
            if isinstance(item, RowResult):
                work.results.append(item)
            else:
                rows.append(item)
        return rows

    def _known_record(self, row: ParsedRow, existing: SourceRecord, work: _BatchWork) -> None:
        """A record this source sent before: unchanged, updated, withdrawn, or still in review."""
        child_key = existing.child_id
        if row.event is EventType.WITHDRAW:
            existing.state = SourceRecordState.WITHDRAWN
            existing.content_hash = row.content_hash
            existing.last_load = self.load
            self._stage(existing, work)
            if child_key is not None:
                work.touched_children.add(child_key)
            work.results.append(
                RowResult(
                    row.line,
                    row.source_record_id,
                    RowOutcome.LINKED,
                    "withdrawn: this source's details are removed from the child",
                    child_key,
                )
            )
            return
        if existing.content_hash == row.content_hash:
            reason = "awaiting review" if existing.state == SourceRecordState.IN_REVIEW else ""
            work.results.append(
                RowResult(
                    row.line,
                    row.source_record_id,
                    RowOutcome.UNCHANGED,
                    reason,
                    child_key,
                    existing.match_weight,
                )
            )
            return
        assert row.record is not None
        flagged_before = bool(existing.report.get("is_shielded"))
        existing.content_hash = row.content_hash
        existing.report = self._report_of(row)
        work.reports[id(existing)] = row.record
        existing.nhs_hash = row.nhs_hash
        existing.received_at = self.load.received_at
        existing.last_load = self.load
        self._stage(existing, work)
        if existing.state == SourceRecordState.IN_REVIEW:
            work.results.append(
                RowResult(
                    row.line,
                    row.source_record_id,
                    RowOutcome.REVIEW,
                    "updated while awaiting review",
                )
            )
            return
        assert child_key is not None
        work.touched_children.add(child_key)
        if row.record.is_shielded and not flagged_before:
            work.flag_raised.add(child_key)
        if row.record.is_shielded:
            work.results.append(
                RowResult(
                    row.line,
                    row.source_record_id,
                    RowOutcome.LINKED,
                    "updated; the source asks for the record to be shielded",
                    child_key,
                )
            )
        else:
            work.results.append(
                RowResult(
                    row.line,
                    row.source_record_id,
                    RowOutcome.LINKED,
                    "updated" + ("; " + "; ".join(row.notes) if row.notes else ""),
                    child_key,
                    existing.match_weight,
                )
            )

    # --- matching -------------------------------------------------------------------------------

    def _match(
        self, rows: list[ParsedRow], known: dict[str, SourceRecord], work: _BatchWork
    ) -> None:
        if not rows:
            return
        incoming = [r.match for r in rows]
        assert all(m is not None for m in incoming)
        records: list[MatchRecord] = [m for m in incoming if m is not None]
        candidates = find_candidates(records)
        shielded = find_shielded(records)
        self.shield_net.refresh_if_due()
        by_nhs = self._nhs_candidates(rows)
        wanted: set[int] = set()
        for index, row in enumerate(rows):
            for child_id in shielded[index]:
                candidates[index].setdefault(child_id, "shielded_dob")
            for child_id in self.shield_net.candidates(records[index]):
                candidates[index].setdefault(child_id, "shielded_near")
            for child_id in by_nhs.get(row.nhs_hash, ()):
                candidates[index].setdefault(child_id, "nhs_number")
            wanted.update(candidates[index])
        profiles = load_profiles(wanted)
        self._add_source_facts(profiles)
        for child_id in shielded_only_as_a_precaution(
            [cid for cid, p in profiles.items() if p.is_shielded]
        ):
            profiles[child_id].extra["precaution"] = True
        pending = PendingChildren(source=self.source.code)
        # Children a source flagged earlier in this batch, searched as loosely as the shield
        # net searches the index: they join the net only once the batch is written.
        flagged_in_batch = ShieldNet(refresh_seconds=float("inf"))

        for index, row in enumerate(rows):
            assert row.record is not None and row.match is not None
            found = [
                (profiles[cid], rule) for cid, rule in candidates[index].items() if cid in profiles
            ]
            found.extend(pending.candidates(row.match))
            near = flagged_in_batch.candidates(row.match)
            if near:
                # Labelled by the rule that would find it once written (as in the next batch:
                # a shielded child a blocking rule finds counts at any weight), else as the
                # sweep: so a boundary between batches changes nothing.
                seen = {record.child_id for record, _ in found}
                for key in near:
                    if key not in seen:
                        flagged = pending.record(key)
                        found.append((flagged, rule_between(row.match, flagged) or "shielded_near"))
            scored = score_candidates(self.model, row.match, found)
            decision = decide(self.model, scored, source=self.source.code)
            weight = decision.best.score.weight if decision.best else None
            record = self._source_record(row, known.get(row.source_record_id), work)
            if decision.best is not None:
                record.match_weight = decision.best.score.weight
                record.match_explanation = decision.best.score.as_dict()
            if decision.outcome is Outcome.LINK:
                child_key = decision.best.child_id  # type: ignore[union-attr]
                record.state = SourceRecordState.LINKED
                self._attach(record, child_key, row.record, work)
                if row.record.is_shielded:
                    work.flag_raised.add(child_key)
                work.results.append(
                    RowResult(
                        row.line,
                        row.source_record_id,
                        RowOutcome.LINKED,
                        self._reason(decision, row),
                        child_key,
                        weight,
                    )
                )
            elif decision.outcome is Outcome.NEW and not row.record.responsible_la_ons_code:
                work.results.append(
                    RowResult(
                        row.line, row.source_record_id, RowOutcome.REJECTED, NO_RESPONSIBLE_LA
                    )
                )
            elif (
                decision.outcome in (Outcome.NEW, Outcome.NEW_SHIELDED)
                and row.record.responsible_la_ons_code
            ):
                child_key = pending.add(row.match)
                record.state = SourceRecordState.LINKED
                work.new_children[child_key] = [row.record]
                if row.record.is_shielded:
                    work.new_shielded.append((child_key, row.match))
                    work.flag_raised.add(child_key)
                    flagged_in_batch.add(child_key, row.match)
                if decision.outcome is Outcome.NEW_SHIELDED:
                    la_id = int(self.la_ids[row.record.responsible_la_ons_code])
                    work.precautions[child_key] = (decision, la_id)
                self._attach(record, child_key, None, work)
                work.results.append(
                    RowResult(
                        row.line,
                        row.source_record_id,
                        RowOutcome.NEW,
                        self._reason(decision, row),
                        child_key,
                        weight,
                    )
                )
            elif (review_la := self._review_la(row, decision)) is None:
                work.results.append(
                    RowResult(
                        row.line, row.source_record_id, RowOutcome.REJECTED, NO_RESPONSIBLE_LA
                    )
                )
            else:
                record.state = SourceRecordState.IN_REVIEW
                record.child = None
                involves_shielded = any(c.candidate.is_shielded for c in decision.candidates)
                work.reviews.append((record, decision, review_la, involves_shielded))
                self._stage(record, work)
                work.results.append(
                    RowResult(
                        row.line,
                        row.source_record_id,
                        RowOutcome.REVIEW,
                        decision.reason,
                        None,
                        weight,
                    )
                )

    def _review_la(self, row: ParsedRow, decision: MatchDecision) -> int | None:
        """Whose queue: the record's responsible LA, else its best candidate's."""
        assert row.record is not None
        code = row.record.responsible_la_ons_code
        if code:
            return int(self.la_ids[code])
        best = decision.best
        la_id = best.candidate.extra.get("responsible_la_id") if best else None
        return la_id if isinstance(la_id, int) else None

    def _reason(self, decision: MatchDecision, row: ParsedRow) -> str:
        """The report's reason: why not linked when a candidate was close, plus row notes."""
        assert row.record is not None
        notes = list(row.notes)
        if row.record.is_shielded:
            notes.append("the source asks for the record to be shielded")
        if decision.outcome is Outcome.NEW_SHIELDED:
            # Told to the source: it learns of a resemblance, never whom or where.
            notes.insert(0, PRECAUTION_NOTE)
        elif decision.outcome is Outcome.NEW and decision.best is not None:
            notes.insert(0, decision.reason)
        return "; ".join(notes)

    def _source_record(
        self, row: ParsedRow, previous: SourceRecord | None, work: _BatchWork
    ) -> SourceRecord:
        assert row.record is not None
        record = previous or SourceRecord(source=self.source, source_record_id=row.source_record_id)
        record.content_hash = row.content_hash
        record.report = self._report_of(row)
        record.extra_report_text = self._encoded_reports.get(row.line)  # type: ignore[attr-defined]
        work.reports[id(record)] = row.record
        record.nhs_hash = row.nhs_hash
        record.received_at = self.load.received_at
        record.last_load = self.load
        return record

    def _report_of(self, row: ParsedRow) -> dict[str, Any]:
        """The row's report as stored: decoded from the parsing process's JSON if it sent it."""
        assert row.record is not None
        encoded = self._encoded_reports.get(row.line)
        return json.loads(encoded) if encoded else record_to_json(row.record)

    def _stage(self, record: SourceRecord, work: _BatchWork) -> None:
        # By identity: model equality compares primary keys, and new records have none yet.
        if id(record) in work.staged:
            return
        work.staged.add(id(record))
        if record.pk is None:
            work.new_records.append(record)
        else:
            work.updated_records.append(record)

    def _attach(
        self, record: SourceRecord, child_key: int, report: ChildRecord | None, work: _BatchWork
    ) -> None:
        record.extra_child_key = child_key  # type: ignore[attr-defined]
        self._stage(record, work)
        if child_key in work.new_children:
            if report is not None:
                work.new_children[child_key].append(report)
        else:
            work.touched_children.add(child_key)

    def _nhs_candidates(self, rows: list[ParsedRow]) -> dict[str, set[int]]:
        hashes = {r.nhs_hash for r in rows if r.nhs_hash}
        found: dict[str, set[int]] = {}
        if not hashes:
            return found
        for nhs_hash, child_id in linked_by_nhs_hash(hashes):
            found.setdefault(nhs_hash, set()).add(child_id)
        return found

    def _add_source_facts(self, profiles: dict[int, MatchRecord]) -> None:
        """What feeds knows of each candidate: scrambled NHS numbers, and which sources."""
        if not profiles:
            return
        hashes: dict[int, set[str]] = {}
        sources: dict[int, set[str]] = {}
        for child_id, nhs_hash, code in SourceRecord.objects.filter(
            child_id__in=list(profiles), state=SourceRecordState.LINKED
        ).values_list("child_id", "nhs_hash", "source__code"):
            if nhs_hash:
                hashes.setdefault(child_id, set()).add(nhs_hash)
            sources.setdefault(child_id, set()).add(code)
        for child_id, profile in profiles.items():
            profile.nhs_hashes = frozenset(hashes.get(child_id, ()))
            profile.extra["sources"] = frozenset(sources.get(child_id, ()))

    # --- writing ---------------------------------------------------------------------------------

    def _write(self, work: _BatchWork, load: FeedLoad, last_line: int) -> None:
        placeholders = sorted(work.new_children)
        reserved = reserve_children(len(placeholders))
        real: dict[int, tuple[int, str]] = dict(zip(placeholders, reserved, strict=True))

        def child_id_of(key: int | None) -> int | None:
            if key is None:
                return None
            return real[key][0] if key in real else key

        for record in work.new_records + work.updated_records:
            key = getattr(record, "extra_child_key", None)
            if key is not None:
                record.child_id = child_id_of(key)

        writes: list[ChildWrite] = []
        for key, reports in work.new_children.items():
            child_id, value = real[key]
            writes.append(ChildWrite(child_id, value, self._merged(reports, key, work), True))

        # Existing children: rebuild from every report now linked to them, this batch included.
        touched = sorted(work.touched_children - set(work.new_children))
        staged = {
            (r.source_id, r.source_record_id): r for r in work.new_records + work.updated_records
        }
        reports_by_child: dict[int, list[ChildRecord]] = {cid: [] for cid in touched}
        if touched:
            for source_id, record_id, child_id, report in SourceRecord.objects.filter(
                child_id__in=touched, state=SourceRecordState.LINKED
            ).values_list("source_id", "source_record_id", "child_id", "report"):
                if (source_id, record_id) in staged:
                    continue
                reports_by_child[child_id].append(record_from_json(report))
            for record in staged.values():
                if record.state == SourceRecordState.LINKED and record.child_id in reports_by_child:
                    # The batch's own reports are still in hand: no need to decode them again.
                    report = work.reports.get(id(record)) or record_from_json(record.report)
                    reports_by_child[record.child_id].append(report)
            contactpoint_ids = dict(
                Child.objects.filter(id__in=touched).values_list("id", "contactpoint_id")
            )
            for child_id in touched:
                reports = reports_by_child[child_id]
                if not reports:
                    continue  # its only source withdrew: the child stays as it was
                writes.append(
                    ChildWrite(
                        child_id,
                        contactpoint_ids[child_id],
                        self._merged(reports, child_id, work),
                        False,
                    )
                )

        MergedChildWriter(feed_sources=self.feed_sources, reference=self.reference).write(writes)
        flagged = sorted(child_id_of(key) or 0 for key in work.flag_raised)
        self._shield_from_flags(flagged)
        self._shield_as_precaution(work, real)
        for key, match in work.new_shielded:
            self.shield_net.add(real[key][0], match)
        # Existing children a flag has just shielded join the net now, not at its next refresh:
        # the next batch's decisions must not depend on how fast this one ran.
        self.shield_net.add_children([c for c in flagged if c not in self.shield_net])
        for record in work.new_records:
            record.child_id = child_id_of(getattr(record, "extra_child_key", None))
        # Records sent to review need their ids (review items point at them); the rest are
        # written with COPY, which returns none but is many times faster.
        in_review = [r for r in work.new_records if r.state == SourceRecordState.IN_REVIEW]
        SourceRecord.objects.bulk_create(in_review)
        insert_rows(
            SourceRecord,
            [
                _source_record_row(r)
                for r in work.new_records
                if r.state != SourceRecordState.IN_REVIEW
            ],
        )
        if work.updated_records:
            SourceRecord.objects.bulk_update(
                work.updated_records,
                [
                    "child",
                    "state",
                    "content_hash",
                    "report",
                    "nhs_hash",
                    "match_weight",
                    "match_explanation",
                    "received_at",
                    "last_load",
                ],
            )
        self._write_reviews(work, child_id_of)

        ids_by_child = dict(
            Child.objects.filter(
                id__in={child_id_of(r.child_key) for r in work.results if r.child_key is not None}
            ).values_list("id", "contactpoint_id")
        )
        insert_rows(
            LoadRow,
            [
                {
                    "load_id": load.pk,
                    "line": r.line,
                    "source_record_id": r.source_record_id[:64],
                    "outcome": r.outcome,
                    "contactpoint_id": ids_by_child.get(child_id_of(r.child_key) or 0, ""),
                    "match_weight": None if r.match_weight is None else round(r.match_weight, 3),
                    "reason": r.reason[:500],
                }
                for r in work.results
            ],
        )
        counts = dict.fromkeys(RowOutcome, 0)
        for r in work.results:
            counts[r.outcome] += 1
        load.rows_new += counts[RowOutcome.NEW]
        load.rows_linked += counts[RowOutcome.LINKED]
        load.rows_review += counts[RowOutcome.REVIEW]
        load.rows_unchanged += counts[RowOutcome.UNCHANGED]
        load.rows_rejected += counts[RowOutcome.REJECTED]
        load.lines_done = last_line
        load.save(
            update_fields=[
                "rows_new",
                "rows_linked",
                "rows_review",
                "rows_unchanged",
                "rows_rejected",
                "lines_done",
            ]
        )
        self.load = load

    def _merged(self, reports: list[ChildRecord], key: int, work: _BatchWork) -> MergedChild:
        """The child's merged record; shielded only if this batch raised a source's flag.

        Stored reports keep their flag after a shielding officer has unshielded the child: the
        officer's decision stands until a source raises the flag again.
        """
        merged = merge_reports(reports, self.precedence)
        merged.shield_requested = key in work.flag_raised or key in work.precautions
        return merged

    def _shield_from_flags(self, child_ids: list[int]) -> None:
        """A shielding decision, due for review at once, for each child a source flagged.

        In the batch's transaction, so a crash leaves neither a flagged child without its
        decision nor a decision without its child. A child whose shield an officer has already
        decided keeps that decision.
        """
        for child in Child.objects.filter(pk__in=child_ids).order_by("pk"):
            shield_child(
                officer=None,
                child=child,
                reason="",
                justification="",
                source=DecisionSource.SOURCE_SYSTEM,
                source_system=self.source.code,
            )

    def _shield_as_precaution(self, work: _BatchWork, real: dict[int, tuple[int, str]]) -> None:
        """Record why each precautionary new child is shielded, and ask whether it is the other.

        The shield is a decision due for a shielding officer's review at once (as a source's
        flag is); the question "are they one child?" goes to the data-quality officers of the
        new child's LA as a possible-duplicate item. Both in the batch's transaction. The child
        stays out of the shield net: it is not the child in hiding the net looks for.
        """
        if not work.precautions:
            return
        children = Child.objects.in_bulk([real[key][0] for key in work.precautions])
        for key, (decision, la_id) in work.precautions.items():
            child_id = real[key][0]
            if key not in work.flag_raised:  # a source's flag already recorded its decision
                shield_as_precaution(child=children[child_id], source_system=self.source.code)
            assert decision.best is not None
            # The shielded child may be new in this very batch: then it has a placeholder key.
            resembled = decision.best.child_id
            resembled = real[resembled][0] if resembled in real else resembled
            ReviewItem.objects.create(
                kind=ReviewKind.POSSIBLE_DUPLICATE,
                local_authority_id=la_id,
                child_id=min(child_id, resembled),
                other_child_id=max(child_id, resembled),
                candidates=[
                    {"child_id": resembled, "explanation": decision.best.score.as_dict()},
                    {"child_id": child_id, "explanation": {}},
                ],
                reason=PRECAUTION_REASON,
                involves_shielded=True,
            )

    def _write_reviews(
        self, work: _BatchWork, child_id_of: Callable[[int | None], int | None]
    ) -> None:
        if not work.reviews:
            return
        open_items = {
            item.source_record_id: item
            for item in ReviewItem.objects.filter(
                source_record__in=[r for r, *_ in work.reviews if r.pk], status="open"
            )
        }
        for record, decision, la_id, involves_shielded in work.reviews:
            candidates = [
                {"child_id": child_id_of(c.child_id), "explanation": c.score.as_dict()}
                for c in decision.candidates
            ]
            item = open_items.get(record.pk)
            if item is None:
                item = ReviewItem(kind=ReviewKind.INCOMING, source_record=record)
            item.local_authority_id = la_id
            item.candidates = candidates
            item.reason = decision.reason[:200]
            item.involves_shielded = involves_shielded
            item.save()
            if decision.possible_duplicate is not None:
                self._raise_possible_duplicate(decision, la_id, child_id_of)

    def _raise_possible_duplicate(
        self,
        decision: MatchDecision,
        la_id: int,
        child_id_of: Callable[[int | None], int | None],
    ) -> None:
        """Two children one record matches equally well: ask whether they are one child."""
        assert decision.possible_duplicate is not None
        first, second = decision.possible_duplicate
        ids = sorted(
            i for i in (child_id_of(first.child_id), child_id_of(second.child_id)) if i is not None
        )
        if len(ids) != 2:
            return
        already = ReviewItem.objects.filter(
            kind=ReviewKind.POSSIBLE_DUPLICATE,
            status="open",
            child_id=ids[0],
            other_child_id=ids[1],
        ).exists()
        if already:
            return
        ReviewItem.objects.create(
            kind=ReviewKind.POSSIBLE_DUPLICATE,
            local_authority_id=la_id,
            child_id=ids[0],
            other_child_id=ids[1],
            candidates=[
                {"child_id": ids[0], "explanation": first.score.as_dict()},
                {"child_id": ids[1], "explanation": second.score.as_dict()},
            ],
            reason="a record matched both children strongly: are they one child?",
            involves_shielded=first.candidate.is_shielded or second.candidate.is_shielded,
        )


def _source_record_row(record: SourceRecord) -> dict[str, Any]:
    """A new SourceRecord as insert_rows wants it: columns, JSON already encoded."""
    return {
        "source_id": record.source_id,
        "source_record_id": record.source_record_id,
        "child_id": record.child_id,
        "state": record.state,
        "content_hash": record.content_hash,
        "report": getattr(record, "extra_report_text", None) or encode_json(record.report),
        "nhs_hash": record.nhs_hash,
        "match_weight": record.match_weight,
        "match_explanation": encode_json(record.match_explanation),
        "received_at": record.received_at,
        "last_load_id": record.last_load_id,
    }


# --- Entry points ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    load: FeedLoad
    resumed_from_line: int


def start_or_resume_load(
    *,
    source: SourceSystem,
    file_name: str,
    sha256: str,
    size: int,
    feed_format: reading.FeedFormat,
    channel: LoadChannel,
    started_by_id: int | None = None,
) -> tuple[FeedLoad, int]:
    """An unfinished load of the same file from the same source, or a new load."""
    if not source.is_active:
        raise LoadRefused(f"source system {source.code} is not active")
    unfinished = (
        FeedLoad.objects.filter(source=source, file_sha256=sha256, status=LoadStatus.RUNNING)
        .order_by("received_at")
        .first()
    )
    if unfinished is not None:
        return unfinished, unfinished.lines_done
    with transaction.atomic():
        load = FeedLoad.objects.create(
            source=source,
            file_name=file_name[:255],
            file_sha256=sha256,
            file_size=size,
            format=feed_format,
            channel=channel,
            started_by_id=started_by_id,
        )
        record_event(
            action="feeds.load_started",
            actor_id=started_by_id,
            organisation_code=source.organisation.code,
            detail={
                "load": load.pk,
                "source": source.code,
                "file": load.file_name,
                "sha256": sha256,
            },
        )
    return load, 0


def load_stream(
    *,
    source: SourceSystem,
    handle: BinaryIO,
    file_name: str,
    feed_format: reading.FeedFormat,
    channel: LoadChannel = LoadChannel.COMMAND,
    started_by_id: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    model: MatchModel | None = None,
    workers: int = 1,
) -> LoadResult:
    """Load a seekable binary stream (a file, or an API upload) and return the finished load."""
    sha256, size = file_digest(handle)
    load, resumed = start_or_resume_load(
        source=source,
        file_name=file_name,
        sha256=sha256,
        size=size,
        feed_format=feed_format,
        channel=channel,
        started_by_id=started_by_id,
    )
    loader = FeedLoader(
        source=source, load=load, model=model, batch_size=batch_size, workers=workers
    )

    def report_position(line: int, _: int) -> None:
        if progress is not None:
            progress(line, handle.tell())

    finished = loader.run(reading.read_rows(handle, feed_format), report_position)
    return LoadResult(finished, resumed)


def load_file(
    *,
    source: SourceSystem,
    path: Path,
    feed_format: reading.FeedFormat | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    started_by_id: int | None = None,
    model: MatchModel | None = None,
    workers: int = 1,
) -> LoadResult:
    """`contactpoint feeds load`: load a file from disk, resuming an interrupted run of it."""
    with path.open("rb") as handle:
        return load_stream(
            source=source,
            handle=handle,
            file_name=path.name,
            feed_format=feed_format or reading.guess_format(path),
            batch_size=batch_size,
            progress=progress,
            started_by_id=started_by_id,
            model=model,
            workers=workers,
        )


REPORT_COLUMNS = (
    "line",
    "source_record_id",
    "outcome",
    "contactpoint_id",
    "match_weight",
    "reason",
)


def report_rows(load: FeedLoad) -> Iterator[tuple[Any, ...]]:
    """The load report, one tuple per row in file order (streamed from the database)."""
    for row in (
        LoadRow.objects.filter(load=load)
        .order_by("line")
        .values_list(
            "line", "source_record_id", "outcome", "contactpoint_id", "match_weight", "reason"
        )
        .iterator(chunk_size=5000)
    ):
        line, record_id, outcome, cp_id, weight, reason = row
        yield (
            line,
            record_id,
            outcome,
            cp_ids.display(cp_id) if cp_id else "",
            "" if weight is None else f"{weight:.2f}",
            reason,
        )


def write_report(load: FeedLoad, handle: Any) -> int:
    """Write the load report as CSV to a text handle; returns the number of rows."""
    import csv

    writer = csv.writer(handle)
    writer.writerow(REPORT_COLUMNS)
    count = 0
    for row in report_rows(load):
        writer.writerow(row)
        count += 1
    return count
