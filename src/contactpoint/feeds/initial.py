"""The initial national load: many whole files into an empty index, clusters first.

Online loading (loading.py) decides each record against the index as it stands, which is
right for a day's changes but costs a candidate search and a rebuild per record. Into an empty
index the whole population can be clustered at once (issue 5, item 8): Splink on DuckDB scores
every blocked pair of every file in one pass, and a cluster that nothing about it is doubtful is
written as one new child in bulk. Everything doubtful goes through the online loader, after the
bulk, record by record, with every rule it applies:

- a cluster with two records from one source (a source holds one record a child: transitive
  clustering is how strangers are chained together) or whose records the online decision
  would not link one after another (decisions.decide, member against earlier members);
- a cluster with a record the source asks to be shielded, or one whose online decision a
  flagged cluster would change: found as the shield net and the blocking rules would find it,
  labelled with the rule online would find it by, and compared as the one shielded child its
  records make by then, so shielding works exactly as online;
- a cluster with a pair in the review band to a record outside it that the online decision
  would not link past: checked against that other cluster too, as the child it would be by then
  (or at once, if a source flagged that cluster);
- a record that is not a plain upsert, has no responsible local authority, or repeats a source
  record ID within its file.

Each file has its own FeedLoad and load report; bulk rows are reported as new (the record that
starts the child: the earliest in the order the files are given) or linked. Bulk clusters are
written in chunks, each in one transaction with its report rows. After an interruption the same
command resumes: every row not yet reported goes through the online loader.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import gc
import itertools
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import F, Model

from contactpoint.feeds import reading
from contactpoint.feeds.constraints import restore_foreign_keys, suspend_foreign_keys
from contactpoint.feeds.loading import (
    FeedLoader,
    LoadRefused,
    ParsedBatch,
    file_digest,
    init_parsing_process,
    parse_batch_in_process,
    parse_raw_row,
    row_context,
    start_or_resume_load,
)
from contactpoint.feeds.models import (
    FeedLoad,
    LoadChannel,
    LoadRow,
    LoadStatus,
    RowOutcome,
    SourceRecord,
    SourceRecordState,
    SourceSystem,
)
from contactpoint.feeds.precedence import current_precedence
from contactpoint.feeds.schema import EventType
from contactpoint.feeds.serialise import encode_json, encode_report
from contactpoint.feeds.validation import ParsedRow, RowContext
from contactpoint.feeds.workers import forked_pool
from contactpoint.index.linkage import (
    PART_MODELS,
    ChildWrite,
    FieldPrecedence,
    MergedChildWriter,
    ReferenceMaps,
    insert_rows,
    merge_reports,
    reserve_children,
)
from contactpoint.index.models import Child, IssuedContactPointId
from contactpoint.matching.blocking import dob_close, rule_between
from contactpoint.matching.decisions import Outcome, ScoredCandidate, decide, score_candidates
from contactpoint.matching.features import MatchRecord, from_merged_child
from contactpoint.matching.model import MatchModel, current_model
from contactpoint.matching.shield import ShieldNet

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 2000  # clusters written per transaction
READ_BATCH = 2000  # rows validated per task
BULK_REASON = "initial load: one child from the records clustered with it"
# What the bulk write inserts into, whose foreign keys are off while it does (constraints.py).
BULK_WRITTEN: tuple[type[Model], ...] = (
    Child,
    IssuedContactPointId,
    *PART_MODELS,
    SourceRecord,
    LoadRow,
)
REVIEW_BAND_REASON = "a pair in the review band to another cluster"

# (phase, done, total): phases "reading", "clustering", "writing", then "online <source>".
InitialProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class InitialFile:
    source: SourceSystem
    path: Path


@dataclass
class _Member:
    order: int  # position of its file in the load order
    load: FeedLoad
    row: ParsedRow
    report_json: str = ""  # the report as SourceRecord.report stores it, if encoded already
    link: ScoredCandidate | None = None  # a later member's best score against earlier ones

    @property
    def uid(self) -> str:
        return f"{self.order}:{self.row.source_record_id}"


@dataclass
class InitialLoadResult:
    loads: list[FeedLoad]
    bulk_children: int = 0
    bulk_records: int = 0
    online_records: int = 0
    resumed: bool = False
    # Why clusters went to the online loader, by reason (for the operator and the benchmark).
    held_back: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Written:
    """What checking and writing one chunk of candidate clusters did."""

    clusters: int
    children: int = 0
    records: int = 0
    held_back: Counter[str] = field(default_factory=Counter)


_running: InitialLoad | None = None  # the load whose chunks forked writers check and write


def _check_and_write_in_process(index: int) -> _Written:
    """Runs in a forked writer: the load and its chunks are inherited, not sent."""
    assert _running is not None
    # A chunk builds a row a part while they all live, and the collector rescanned them again
    # and again. It runs once a chunk instead, over the youngest generation only: everything
    # the chunk allocated and left, its garbage cycles included. (A full collection each chunk
    # rescanned every link decided before, and took a quarter of a writer's time.) What the
    # writer inherited is frozen (see InitialLoad._write_bulk).
    gc.disable()
    try:
        return _running._check_and_write(index)
    finally:
        gc.collect(0)


def _place(member: _Member) -> tuple[int, int]:
    """Where the record comes in the load order: its file's position, then its line."""
    return (member.order, member.row.line)


@dataclass(frozen=True)
class _Rival:
    """Another cluster that a record resembles in the review band, as a candidate child."""

    child_id: int  # positive: 0 is the record's own cluster, flagged ones are negative
    members: list[_Member]  # in load order


@dataclass(eq=False)
class _FlaggedCluster:
    """A cluster a source flagged, as online matching would see it at each place in the load
    order: the child its earlier records make, shielded once the flagged one is among them
    (one profile, as blocking.load_profiles reads a child, so an NHS number any of its records
    holds tells a stranger apart)."""

    child_id: int  # negative, one a cluster
    members: list[_Member]  # in load order
    _as_of: dict[int, MatchRecord | None] = field(default_factory=dict)

    @functools.cached_property
    def dates_of_birth(self) -> frozenset[dt.date]:
        return frozenset(m.row.match.date_of_birth for m in self.members if m.row.match)

    @functools.cached_property
    def nhs_hashes(self) -> frozenset[str]:
        return frozenset(h for m in self.members if m.row.match for h in m.row.match.nhs_hashes)

    @functools.cached_property
    def places(self) -> list[tuple[int, int]]:
        return [_place(m) for m in self.members]

    def as_of(
        self, place: tuple[int, int], precedence: FieldPrecedence, codes: Sequence[str]
    ) -> MatchRecord | None:
        # Asked for every record the shield net finds it for: the members are in load order.
        earlier = self.members[: bisect.bisect_left(self.places, place)]
        if len(earlier) not in self._as_of:
            reports = [m.row.record for m in earlier if m.row.record is not None]
            self._as_of[len(earlier)] = (
                dataclasses.replace(
                    from_merged_child(
                        merge_reports(reports, precedence),
                        nhs_hashes=frozenset(
                            h for m in earlier if m.row.match for h in m.row.match.nhs_hashes
                        ),
                        child_id=self.child_id,
                        is_shielded=True,
                    ),
                    extra={"sources": frozenset(codes[m.order] for m in earlier)},
                )
                if any(r.is_shielded for r in reports)
                else None
            )
        return self._as_of[len(earlier)]


def _block_keys(record: MatchRecord, *, incoming: bool) -> Iterator[tuple[str, ...]]:
    """Keys of the blocking rules the shield net does not cover: a shared postcode, names that
    sound the same either way round, the NHS number. An incoming record offers its primary name
    and current postcode, as find_candidates looks it up; a child, every one it holds."""
    names = record.names[:1] if incoming else record.names
    for place in record.places[:1] if incoming else record.places:
        yield ("postcode", place.postcode)
    for name in names:
        yield ("phonetics", name.family_phonetic, name.given_phonetic)
        if incoming:
            yield ("phonetics", name.given_phonetic, name.family_phonetic)
    for nhs_hash in record.nhs_hashes:
        yield ("nhs", nhs_hash)


class _FlaggedNet:
    """The flagged clusters, found for a record as online matching finds the shielded child
    each makes: by the shield net (a loose sweep) or by a blocking rule. Which rule decides how
    decide treats the candidate (one a blocking rule finds counts at any weight), so it is
    worked out against the child as the cluster makes it by then (blocking.rule_between)."""

    def __init__(self) -> None:
        self._net = ShieldNet(refresh_seconds=float("inf"))
        self._blocks: dict[tuple[str, ...], set[int]] = {}
        self._clusters: dict[int, _FlaggedCluster] = {}

    def add(self, cluster: _FlaggedCluster) -> None:
        """Each record under its birth date with all of the cluster's names (whatever the
        child holds by then), and under every block key of each record."""
        names = tuple(
            dict.fromkeys(n for m in cluster.members if m.row.match for n in m.row.match.names)
        )
        for member in cluster.members:
            assert member.row.match is not None
            key = -(len(self._clusters) + 1)
            self._clusters[key] = cluster
            self._net.add(key, dataclasses.replace(member.row.match, names=names))
            for block in _block_keys(member.row.match, incoming=False):
                self._blocks.setdefault(block, set()).add(key)

    def candidates(
        self,
        match: MatchRecord,
        place: tuple[int, int],
        precedence: FieldPrecedence,
        codes: Sequence[str],
    ) -> Iterator[tuple[MatchRecord, str]]:
        swept = {self._clusters[k] for k in self._net.candidates(match)}
        blocked = {
            self._clusters[k]
            for b in _block_keys(match, incoming=True)
            for k in self._blocks.get(b, ())
        }
        # Merging the child is the cost: the postcode and name rules need a birth date close
        # to one of the cluster's (its child's is one of them), the NHS number nothing.
        blocked = {
            c
            for c in blocked - swept
            if match.nhs_hashes & c.nhs_hashes
            or any(dob_close(match.date_of_birth, born) for born in c.dates_of_birth)
        }
        for cluster in sorted(swept | blocked, key=lambda c: -c.child_id):  # same order each run
            child = cluster.as_of(place, precedence, codes)
            if child is None:
                continue
            # The order online labels it in: blocking, the shield sweep, the NHS-number lookup.
            rule = rule_between(match, child) or ("shielded_near" if cluster in swept else "")
            if not rule and match.nhs_hashes & child.nhs_hashes:
                rule = "nhs_number"
            if rule:
                yield child, rule


def _as_child(
    members: Sequence[_Member], child_id: int, codes: Sequence[str]
) -> Iterator[tuple[MatchRecord, str]]:
    """Members as the records of one candidate child, holding a record from each of their
    sources (the one-record-a-source rule), found by an ordinary blocking rule."""
    sources = frozenset(codes[m.order] for m in members)
    for member in members:
        if member.row.match is not None:
            yield (
                dataclasses.replace(
                    member.row.match, child_id=child_id, extra={"sources": sources}
                ),
                "",
            )


class InitialLoad:
    """One initial load of `files`, in the order given (see the module docstring)."""

    def __init__(
        self,
        files: Sequence[InitialFile],
        *,
        model: MatchModel | None = None,
        chunk: int = DEFAULT_CHUNK,
        progress: InitialProgress | None = None,
        started_by_id: int | None = None,
        workers: int = 1,
    ) -> None:
        if not files:
            raise LoadRefused("an initial load needs at least one file")
        if len({f.source.pk for f in files}) != len(files):
            raise LoadRefused("an initial load takes one file per source system")
        self.files = list(files)
        self.model = model or current_model()
        self.chunk = max(1, chunk)
        self.progress = progress or (lambda phase, done, total: None)
        self.started_by_id = started_by_id
        self.workers = max(1, workers)
        self.precedence = current_precedence()
        self.feed_sources = list(SourceSystem.objects.values_list("code", flat=True))
        self._flagged = _FlaggedNet()
        self._rivals: dict[str, list[_Rival]] = {}
        self._chunks: list[tuple[list[list[_Member]], list[tuple[int, str]]]] = []
        self._writer: MergedChildWriter | None = None

    # --- the whole load ----------------------------------------------------------------------------

    def run(self) -> InitialLoadResult:
        restore_foreign_keys()  # any that a load killed in its bulk write left off
        loads, resumed = self._start()
        result = InitialLoadResult(loads=loads, resumed=resumed)
        if not resumed:
            try:
                self._load_in_bulk(loads, result)
            finally:
                # The bulk's records, frozen since they were read, are garbage now.
                self._chunks, self._rivals, self._flagged = [], {}, _FlaggedNet()
                gc.unfreeze()
        started = time.monotonic()
        finished = []
        # What lives now lives to the end (the code, the reference data, the name and postcode
        # caches): out of the collector's sight, its full collections scan only what the online
        # rows make. Scanning it all, each took 0.17-0.35 s, 16 of them a fifth of the online
        # phase at 100,000 children. (The bulk left next to no cycles to collect: 76 objects.)
        gc.freeze()
        try:
            for item, load in zip(self.files, loads, strict=True):
                load.refresh_from_db()
                finished.append(self._load_the_rest(item, load, result))
        finally:
            gc.unfreeze()
        result.loads = finished
        result.seconds["online"] = time.monotonic() - started
        return result

    def _load_in_bulk(self, loads: Sequence[FeedLoad], result: InitialLoadResult) -> None:
        started = time.monotonic()
        # Every row read lives until the bulk is written, and the cyclic collector would rescan
        # all those already read again and again while reading (a third of the time it took,
        # for next to no cycles: 42 among 54,000 rows). Off while reading; then the rows are
        # frozen (out of its sight), and it collects what clustering and writing leave.
        # Clustering too builds a row a record (and a pair, a cluster) while they all live:
        # off, it took half as long to tabulate the features.
        collecting = gc.isenabled()
        gc.disable()
        try:
            members = self._read(loads)
            gc.freeze()
            result.seconds["reading"] = time.monotonic() - started
            started = time.monotonic()
            candidates, result.held_back = self._plan(members)
            del members
        finally:
            # Clustering's own garbage (Splink's SQL trees hold cycles) is everything younger.
            gc.collect(0)
            gc.freeze()
            if collecting:
                gc.enable()
        result.seconds["clustering"] = time.monotonic() - started
        started = time.monotonic()
        # Not inside a caller's transaction: it would hold the tables locked until it ended.
        if not connection.in_atomic_block:
            suspend_foreign_keys(BULK_WRITTEN)
        try:
            for written in self._write_bulk(candidates):
                result.bulk_children += written.children
                result.bulk_records += written.records
                result.held_back.update(written.held_back)
        finally:
            restore_foreign_keys()  # counted in the phase: checking every row is its cost
        result.seconds["checking and writing"] = time.monotonic() - started

    def _start(self) -> tuple[list[FeedLoad], bool]:
        """A FeedLoad per file: unfinished ones resumed, or new ones into an empty index."""
        digests = []
        for item in self.files:
            if not item.path.is_file():
                raise LoadRefused(f"{item.path} is not a file")
            with item.path.open("rb") as handle:
                digests.append(file_digest(handle))
        unfinished = [
            FeedLoad.objects.filter(
                source=item.source, file_sha256=sha, status=LoadStatus.RUNNING
            ).exists()
            for item, (sha, _) in zip(self.files, digests, strict=True)
        ]
        if not any(unfinished) and (Child.objects.exists() or SourceRecord.objects.exists()):
            raise LoadRefused(
                "the index already holds children: an initial load is for an empty index "
                "(load these files with `contactpoint feeds load`, which matches each record "
                "against what is there)"
            )
        loads = []
        for item, (sha, size), running in zip(self.files, digests, unfinished, strict=True):
            # Resuming, a file whose rest was already loaded online keeps its finished load.
            finished = (
                None
                if running or not any(unfinished)
                else FeedLoad.objects.filter(
                    source=item.source, file_sha256=sha, status=LoadStatus.COMPLETED
                )
                .order_by("-received_at")
                .first()
            )
            loads.append(
                finished
                or start_or_resume_load(
                    source=item.source,
                    file_name=item.path.name,
                    sha256=sha,
                    size=size,
                    feed_format=reading.guess_format(item.path),
                    channel=LoadChannel.COMMAND,
                    started_by_id=self.started_by_id,
                )[0]
            )
        return loads, any(unfinished)

    # --- reading -----------------------------------------------------------------------------------

    def _read(self, loads: Sequence[FeedLoad]) -> list[_Member]:
        """Every valid row of every file (rejected rows are left for the online loader).

        With three workers or more, rows are validated (and their reports encoded) in all but
        one of them while this one reads the file and collects them in order. With two, taking
        the parsed rows back from another process cost this one more than parsing them (on the
        2-core machine of the benchmark: 11.5 s against 7.1 s for 60,000 rows).
        """
        members: list[_Member] = []
        for order, (item, load) in enumerate(zip(self.files, loads, strict=True)):
            context = row_context(item.source, load)
            for parsed, encoded in self._parsed_batches(item.path, context):
                for row in parsed:
                    if isinstance(row, ParsedRow):
                        members.append(_Member(order, load, row, encoded.get(row.line, "")))
                self.progress("reading", len(members), 0)
        return members

    def _parsed_batches(self, path: Path, context: RowContext) -> Iterator[ParsedBatch]:
        raws = reading.read_path(path)
        batches = iter(lambda: list(itertools.islice(raws, READ_BATCH)), [])
        parsers = self.workers - 1
        if parsers < 2:
            for batch in batches:
                yield [parse_raw_row(raw, context) for raw in batch], {}
            return
        with forked_pool(parsers, initializer=init_parsing_process, initargs=(context,)) as pool:
            window: deque[Future[ParsedBatch]] = deque()
            for batch in batches:
                window.append(pool.submit(parse_batch_in_process, batch))
                if len(window) > 2 * parsers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()

    # --- planning ----------------------------------------------------------------------------------

    def _plan(self, members: list[_Member]) -> tuple[list[list[_Member]], Counter[str]]:
        """Clusters to write in bulk (members in load order) and why the rest were held back."""
        from contactpoint.matching.training import dedupe_table, features_table

        held: Counter[str] = Counter()
        repeated = Counter((m.order, m.row.source_record_id) for m in members)
        clusterable = [
            m
            for m in members
            if m.row.match is not None and repeated[(m.order, m.row.source_record_id)] == 1
        ]
        by_uid = {m.uid: m for m in clusterable}
        self.progress("clustering", 0, len(clusterable))
        result = dedupe_table(
            features_table((m.uid, m.row.match) for m in clusterable if m.row.match), self.model
        )
        clusters: dict[str, list[_Member]] = defaultdict(list)
        for uid, cluster in result.clusters.items():
            clusters[cluster].append(by_uid[uid])
        cluster_of = result.clusters
        doubtful: dict[str, str] = {}

        def hold(cluster: str, reason: str) -> None:
            doubtful.setdefault(cluster, reason)

        # A record that resembles another cluster's in the review band is checked against that
        # cluster too, as the child it will be online (see _doubt_in_cluster).
        rival_clusters: dict[str, set[str]] = defaultdict(set)
        for left, right, weight in result.pairs:
            if cluster_of[left] != cluster_of[right] and weight >= self.model.thresholds.review:
                rival_clusters[left].add(cluster_of[right])
                rival_clusters[right].add(cluster_of[left])
        # A cluster a source flagged is, online, the shielded child its records make once the
        # flagged one has come (see _FlaggedCluster), found as online finds it (_FlaggedNet).
        flagged = _FlaggedNet()
        flagged_clusters: set[str] = set()
        for cluster, cluster_members in clusters.items():
            first = min(cluster_members, key=_place)
            for member in cluster_members:
                reason = self._not_plain(member, first=member is first)
                if reason:
                    hold(cluster, reason)
            if len({m.order for m in cluster_members}) < len(cluster_members):
                hold(cluster, "two records from one source")
            if not any(
                m.row.record is not None and m.row.record.is_shielded for m in cluster_members
            ):
                continue
            flagged_clusters.add(cluster)
            flagged.add(
                _FlaggedCluster(-(len(flagged_clusters)), sorted(cluster_members, key=_place))
            )
        self._flagged = flagged
        # The shield net decides how a flagged cluster's records count; a record resembling one
        # in the review band is left to the online loader rather than counted twice.
        as_rival: dict[str, _Rival] = {}
        self._rivals = {}
        for uid, others in rival_clusters.items():
            if others & flagged_clusters:
                hold(cluster_of[uid], REVIEW_BAND_REASON)
                continue
            for other in others - as_rival.keys():
                as_rival[other] = _Rival(len(as_rival) + 1, sorted(clusters[other], key=_place))
            self._rivals[uid] = [as_rival[other] for other in sorted(others)]
        candidates = [
            sorted(cluster_members, key=_place)
            for cluster, cluster_members in clusters.items()
            if cluster not in doubtful
        ]
        held.update(doubtful.values())
        return candidates, held

    @staticmethod
    def _not_plain(member: _Member, *, first: bool) -> str:
        row = member.row
        if row.event is not EventType.UPSERT or row.record is None:
            return "an event other than an upsert"
        if row.record.is_shielded:
            return "a source asks for a record to be shielded"
        if first and not row.record.responsible_la_ons_code:
            # Online, a new child needs one; a record linked to a child does not.
            return "no responsible local authority"
        return ""

    def _doubt_in_cluster(self, members: list[_Member]) -> str:
        """Why the online loader must decide this cluster, or '' when its links are sure.

        Sets each later member's `link` (its score against the earlier member it matches best):
        the weight and explanation that its report and source record keep.
        """
        codes = [f.source.code for f in self.files]
        for index, member in enumerate(members):
            match = member.row.match
            assert match is not None
            candidates = list(
                self._flagged.candidates(match, _place(member), self.precedence, codes)
            )
            if index:
                candidates.extend(_as_child(members[:index], 0, codes))
            # Online, another cluster this record resembles in the review band is a child by
            # the time it comes, made of that cluster's records that come before it.
            rivals = self._rivals.get(member.uid, ())
            for rival in rivals:
                earlier = [e for e in rival.members if _place(e) < _place(member)]
                candidates.extend(_as_child(earlier, rival.child_id, codes))
            if not candidates:
                continue
            near_shielded = any(c.is_shielded for c, _ in candidates)
            scored = score_candidates(self.model, match, candidates)
            # Each child (the one the earlier members make, each rival) is one candidate: its
            # best-scoring record.
            best_of: dict[int | None, ScoredCandidate] = {}
            for scored_candidate in scored:
                best_of.setdefault(scored_candidate.candidate.child_id, scored_candidate)
            ranked = list(best_of.values())
            decision = decide(self.model, ranked, source=codes[member.order])
            if index == 0 and decision.outcome is Outcome.NEW:
                continue
            if decision.outcome is Outcome.LINK and decision.child_id == 0:
                member.link = decision.best
                continue
            # Any shielded record it was compared with, scored or not (score_candidates leaves
            # out the loose candidates decide would drop).
            if near_shielded:
                return "resembles a record a source asks to be shielded"
            if rivals:
                return REVIEW_BAND_REASON
            return "the online decision would not link every record of the cluster"
        return ""

    # --- writing the bulk ----------------------------------------------------------------------

    def _write_bulk(self, clusters: list[list[_Member]]) -> Iterator[_Written]:
        """Check each candidate cluster as online matching would, and write the sure ones.

        Chunk by chunk, each in a transaction of its own; on PostgreSQL with workers, chunks
        are checked and written by that many processes at once (ids and ContactPoint IDs are
        reserved here first, so they cannot collide).
        """
        with transaction.atomic():
            reserved = reserve_children(len(clusters))
        self._chunks = [
            (clusters[start : start + self.chunk], reserved[start : start + self.chunk])
            for start in range(0, len(clusters), self.chunk)
        ]
        done = 0
        # Forked writers need PostgreSQL, and cannot see a transaction the caller holds open.
        if self.workers == 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
            for index in range(len(self._chunks)):
                written = self._check_and_write(index)
                done += written.clusters
                self.progress("writing", done, len(clusters))
                yield written
            return
        global _running
        _running = self
        connections.close_all()  # each process opens its own connection
        # Out of the collector's sight (until run() is done with them), the inherited records
        # are not copied into each writer when it runs (a collection touches every object).
        gc.freeze()
        with forked_pool(self.workers) as pool:
            for future in as_completed(
                [pool.submit(_check_and_write_in_process, i) for i in range(len(self._chunks))]
            ):
                written = future.result()
                done += written.clusters
                self.progress("writing", done, len(clusters))
                yield written
        _running = None

    def _check_and_write(self, index: int) -> _Written:
        clusters, reserved = self._chunks[index]
        written = _Written(clusters=len(clusters))
        sure: list[list[_Member]] = []
        ids: list[tuple[int, str]] = []
        for members, reservation in zip(clusters, reserved, strict=True):
            reason = self._doubt_in_cluster(members)
            if reason:
                written.held_back[reason] += 1
                continue
            sure.append(members)
            ids.append(reservation)
        if self._writer is None:
            self._writer = MergedChildWriter(
                feed_sources=self.feed_sources, reference=ReferenceMaps()
            )
        with transaction.atomic():
            self._write_chunk(sure, ids, self._writer)
        written.children = len(sure)
        written.records = sum(len(m) for m in sure)
        return written

    def _write_chunk(
        self,
        clusters: list[list[_Member]],
        reserved: list[tuple[int, str]],
        writer: MergedChildWriter,
    ) -> None:
        """In the caller's transaction: the children, their source records and report rows."""
        writes: list[ChildWrite] = []
        records: list[dict[str, Any]] = []
        report: list[dict[str, Any]] = []
        counts: Counter[tuple[int, str]] = Counter()
        for members, (child_id, value) in zip(clusters, reserved, strict=True):
            reports = [m.row.record for m in members if m.row.record is not None]
            merged = merge_reports(reports, self.precedence)
            merged.shield_requested = False
            writes.append(ChildWrite(child_id, value, merged, True))
            for member in members:
                row = member.row
                assert row.record is not None
                link = member.link
                weight = None if link is None else round(link.score.weight, 3)
                outcome = RowOutcome.NEW if link is None else RowOutcome.LINKED
                counts[(member.load.pk, outcome)] += 1
                records.append(
                    {
                        "source_id": member.load.source_id,
                        "source_record_id": row.source_record_id,
                        "child_id": child_id,
                        "state": SourceRecordState.LINKED,
                        "content_hash": row.content_hash,
                        "report": member.report_json or encode_report(row.record),
                        "nhs_hash": row.nhs_hash,
                        "match_weight": None if link is None else link.score.weight,
                        "match_explanation": encode_json(
                            {} if link is None else link.score.as_dict()
                        ),
                        "received_at": member.load.received_at,
                        "last_load_id": member.load.pk,
                    }
                )
                report.append(
                    {
                        "load_id": member.load.pk,
                        "line": row.line,
                        "source_record_id": row.source_record_id[:64],
                        "outcome": outcome,
                        "contactpoint_id": value,
                        "match_weight": weight,
                        "reason": "; ".join((BULK_REASON, *row.notes))[:500],
                    }
                )
        writer.write(writes)
        insert_rows(SourceRecord, records)
        insert_rows(LoadRow, report)
        for load_id in sorted({load_id for load_id, _ in counts}):  # one lock order for all
            FeedLoad.objects.filter(pk=load_id).update(
                rows_new=F("rows_new") + counts[(load_id, RowOutcome.NEW)],
                rows_linked=F("rows_linked") + counts[(load_id, RowOutcome.LINKED)],
            )

    # --- the rest, online ------------------------------------------------------------------------

    def _load_the_rest(
        self, item: InitialFile, load: FeedLoad, result: InitialLoadResult
    ) -> FeedLoad:
        """Every row of the file not yet reported, through the online loader (file order)."""
        if load.status == LoadStatus.COMPLETED:
            return load
        reported = set(LoadRow.objects.filter(load=load).values_list("line", flat=True))
        rest = (raw for raw in reading.read_path(item.path) if raw.line not in reported)
        loader = FeedLoader(source=item.source, load=load, model=self.model)
        phase = f"online {item.source.code}"

        def counted(raws: Iterable[reading.RawRow]) -> Iterator[reading.RawRow]:
            for done, raw in enumerate(raws, start=1):
                result.online_records += 1
                if done % 500 == 0:
                    self.progress(phase, done, 0)
                yield raw

        # The loader's own feeds.load_completed event, in its completing transaction, audits it.
        return loader.run(counted(rest))


def initial_load(
    files: Sequence[InitialFile],
    *,
    model: MatchModel | None = None,
    chunk: int = DEFAULT_CHUNK,
    progress: InitialProgress | None = None,
    started_by_id: int | None = None,
    workers: int = 1,
) -> InitialLoadResult:
    """`contactpoint feeds initial-load`: see the module docstring."""
    return InitialLoad(
        files,
        model=model,
        chunk=chunk,
        progress=progress,
        started_by_id=started_by_id,
        workers=workers,
    ).run()
