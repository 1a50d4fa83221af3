"""Index writes that record linkage needs: build a child from many source reports, merge, unmerge.

A child's record is a pure function of the source reports linked to it (one `ChildRecord` per
source record) and the field-precedence table: `merge_reports` computes it, and the writers
replace the parts that came from feeds with the result. So linking one more report, merging two
children (union of their reports) and unmerging (split them again) are all "rebuild from
reports", and a rebuild is repeatable: the same reports always give the same record.

Parts that did not come from a feed (for example an involvement a practitioner added) are never
rebuilt; they move with the child on merge and move back on unmerge.

`feeds` (above this layer) owns source systems and stores the reports; it passes them in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone
from psycopg import postgres, pq
from psycopg.adapt import Dumper

from contactpoint.index import contactpoint_id, normalise
from contactpoint.index.bulk import name_keys
from contactpoint.index.models import (
    Address,
    Carer,
    Child,
    ChildFieldSource,
    ChildMerge,
    ChildName,
    GpPractice,
    GpRegistration,
    Involvement,
    IssuedContactPointId,
    LocalAuthority,
    School,
    SchoolEnrolment,
)
from contactpoint.index.records import (
    AddressRecord,
    CarerRecord,
    ChildRecord,
    EnrolmentRecord,
    GpRegistrationRecord,
    InvolvementRecord,
    NameRecord,
    SourceRef,
)
from contactpoint.index.vocabularies import (
    AddressKind,
    ChildStatus,
    Gender,
    NameKind,
    ProvenancedChildField,
    ReturnIntention,
    Whereabouts,
)

# Keys of the same few hundred thousand names are computed over and over in a load: cache them.
_name_key = functools.lru_cache(maxsize=262_144)(normalise.name_key)
_first_given_key = functools.lru_cache(maxsize=65_536)(normalise.first_given_name_key)
_clean_name = functools.lru_cache(maxsize=262_144)(normalise.clean_display_name)
_parse_postcode = functools.lru_cache(maxsize=262_144)(normalise.parse_postcode)
_cached_name_keys = functools.lru_cache(maxsize=262_144)(name_keys)

# The record's parts written from source reports, in foreign-key order.
PART_MODELS: tuple[type[models.Model], ...] = (
    ChildFieldSource,
    ChildName,
    Address,
    Carer,
    SchoolEnrolment,
    GpRegistration,
    Involvement,
)


# --- Field precedence --------------------------------------------------------------------------


class PrecedenceField:
    """The fields (or groups of fields) whose winning source is chosen by precedence."""

    NAME = "name"
    DATE_OF_BIRTH = "date_of_birth"
    GENDER = "gender"
    ADDRESS = "address"
    RESPONSIBLE_LA = "responsible_la"
    CARERS = "carers"
    SCHOOL = "school"
    GP_PRACTICE = "gp_practice"
    INVOLVEMENTS = "involvements"

    ALL = (
        NAME,
        DATE_OF_BIRTH,
        GENDER,
        ADDRESS,
        RESPONSIBLE_LA,
        CARERS,
        SCHOOL,
        GP_PRACTICE,
        INVOLVEMENTS,
    )


@dataclass(frozen=True)
class FieldPrecedence:
    """For each field, a rank per source system code: lower wins, then the most recent report.

    Built by `feeds` from its per-kind table (feeds/precedence.py) and the registered sources;
    a source missing from a field's ranks comes after every ranked one.
    """

    ranks: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def order_key(self, field_name: str, source: SourceRef) -> tuple[int, float, str, str]:
        rank = self.ranks.get(field_name, {}).get(source.source_system, 1_000)
        return (
            rank,
            -source.received_at.timestamp(),
            source.source_system,
            source.source_record_id,
        )

    def ordered(self, field_name: str, reports: Iterable[ChildRecord]) -> list[ChildRecord]:
        """Reports from the winning one down."""
        return sorted(reports, key=lambda r: self.order_key(field_name, r.source))


# --- The merged view ---------------------------------------------------------------------------


@dataclass
class MergedChild:
    """A child's record as the index stores it, each part with the report that supplied it."""

    gender: str
    date_of_birth: dt.date
    responsible_la_ons_code: str
    status: str
    whereabouts: str
    left_england_intends_return: str
    died_on: dt.date | None
    left_england_on: dt.date | None
    shield_requested: bool
    field_sources: dict[str, SourceRef]
    names: list[tuple[NameRecord, SourceRef]] = field(default_factory=list)
    addresses: list[tuple[AddressRecord, SourceRef]] = field(default_factory=list)
    carers: list[tuple[CarerRecord, SourceRef]] = field(default_factory=list)
    enrolments: list[tuple[EnrolmentRecord, SourceRef]] = field(default_factory=list)
    gp_registrations: list[tuple[GpRegistrationRecord, SourceRef]] = field(default_factory=list)
    involvements: list[tuple[InvolvementRecord, SourceRef]] = field(default_factory=list)


def _name_identity(name: NameRecord) -> tuple[str, str]:
    return (_name_key(name.given_names), _name_key(name.family_name))


def _address_identity(address: AddressRecord) -> tuple[str, str]:
    return (address.postcode.replace(" ", "").upper(), _name_key(address.line_1))


def merge_reports(reports: Sequence[ChildRecord], precedence: FieldPrecedence) -> MergedChild:
    """The one record the index holds for a child reported by all these source records.

    DESIGN: when sources disagree, a per-field table says which source wins, then the most
    recent report. Losing names are kept as aliases and losing addresses as previous ones, so
    search still finds the child by what any source calls them; every source's own version
    stays in `feeds` for a data-quality officer to compare.
    """
    if not reports:
        raise ValueError("a child needs at least one source report")
    if len(reports) == 1:
        return _single_report(reports[0])
    P = PrecedenceField  # noqa: N806 (a short alias keeps the table below readable)
    by = {f: precedence.ordered(f, reports) for f in P.ALL}

    known_gender = [r for r in by[P.GENDER] if r.gender not in (Gender.NOT_KNOWN, "")]
    gender_report = (known_gender or by[P.GENDER])[0]
    dob_report = by[P.DATE_OF_BIRTH][0]
    # A report may not know the LA (a national source, no address): it does not vote.
    la_report = next((r for r in by[P.RESPONSIBLE_LA] if r.responsible_la_ons_code), reports[0])
    name_report = by[P.NAME][0]

    # Death is final whoever reports it; otherwise the most recent report's event stands.
    latest = max(reports, key=lambda r: (r.source.received_at, r.source.source_system))
    deceased = [r for r in by[P.DATE_OF_BIRTH] if r.status == ChildStatus.DECEASED]
    status_report = deceased[0] if deceased else latest
    left = status_report.status == ChildStatus.LEFT_ENGLAND

    merged = MergedChild(
        gender=gender_report.gender,
        date_of_birth=dob_report.date_of_birth,
        responsible_la_ons_code=la_report.responsible_la_ons_code,
        status=status_report.status,
        whereabouts=Whereabouts.NO_KNOWN_ADDRESS,
        left_england_intends_return=(
            status_report.left_england_intends_return or ReturnIntention.UNKNOWN if left else ""
        ),
        died_on=status_report.died_on if deceased else None,
        left_england_on=status_report.left_england_on if left else None,
        shield_requested=any(r.is_shielded for r in reports),
        field_sources={
            ProvenancedChildField.GENDER: gender_report.source,
            ProvenancedChildField.DATE_OF_BIRTH: dob_report.source,
            ProvenancedChildField.RESPONSIBLE_LA: la_report.source,
            ProvenancedChildField.STATUS: status_report.source,
            ProvenancedChildField.WHEREABOUTS: status_report.source,
        },
    )

    # Names: the winner's current name; other sources' current names as aliases; former names.
    seen_names: set[tuple[str, tuple[str, str]]] = set()
    current = next(n for n in name_report.names if n.kind == NameKind.CURRENT)
    merged.names.append((NameRecord(current.given_names, current.family_name), name_report.source))
    seen_names.add((NameKind.CURRENT, _name_identity(current)))
    current_identity = _name_identity(current)
    for report in by[P.NAME]:
        for name in report.names:
            identity = _name_identity(name)
            kind = NameKind.ALIAS if name.kind == NameKind.CURRENT else name.kind
            if identity == current_identity or (kind, identity) in seen_names:
                continue
            if any(i == identity for _, i in seen_names):
                continue
            seen_names.add((kind, identity))
            merged.names.append(
                (NameRecord(name.given_names, name.family_name, kind), report.source)
            )

    # Addresses: the winning current address; every other address the child had, as previous.
    seen_places: set[tuple[str, str]] = set()
    have_current = False
    for report in by[P.ADDRESS]:
        for address in report.addresses:
            identity = _address_identity(address)
            if identity in seen_places:
                continue
            seen_places.add(identity)
            is_current = address.kind in (AddressKind.CURRENT, AddressKind.LAST_KNOWN)
            if is_current and not have_current:
                have_current = True
                kind = AddressKind.CURRENT
                to_date = None
            else:
                kind = AddressKind.PREVIOUS
                to_date = address.to_date
            merged.addresses.append(
                (
                    AddressRecord(
                        line_1=address.line_1,
                        line_2=address.line_2,
                        town=address.town,
                        postcode=address.postcode,
                        kind=kind,
                        from_date=address.from_date,
                        to_date=to_date,
                    ),
                    report.source,
                )
            )
            if kind == AddressKind.CURRENT:
                merged.field_sources[ProvenancedChildField.WHEREABOUTS] = report.source
    if left:
        merged.whereabouts = Whereabouts.LEFT_ENGLAND
    elif have_current:
        merged.whereabouts = Whereabouts.CURRENT_ADDRESS

    # Carers: everyone any source names, once each, as the highest-precedence source has them.
    seen_carers: set[tuple[str, str]] = set()
    for report in by[P.CARERS]:
        for carer in report.carers:
            identity = (
                _first_given_key(carer.given_names),
                _name_key(carer.family_name),
            )
            if identity not in seen_carers:
                seen_carers.add(identity)
                merged.carers.append((carer, report.source))

    merged.enrolments = _one_current(
        [(e, r.source) for r in by[P.SCHOOL] for e in r.enrolments],
        key=lambda e: e.school_urn,
        is_current=lambda e: e.ended_on is None,
    )
    merged.gp_registrations = _one_current(
        [(g, r.source) for r in by[P.GP_PRACTICE] for g in r.gp_registrations],
        key=lambda g: g.practice_ods_code,
        is_current=lambda g: g.ended_on is None,
    )

    # Involvements: every source's own; only the winning source's current lead stays lead.
    lead_taken = False
    for report in by[P.INVOLVEMENTS]:
        for involvement in report.involvements:
            if involvement.is_lead_professional and involvement.ended_on is None:
                if lead_taken:
                    involvement = _replace(involvement, is_lead_professional=False)
                lead_taken = True
            merged.involvements.append((involvement, report.source))
    return merged


def _single_report(report: ChildRecord) -> MergedChild:
    """merge_reports for one report (every new child): the same result, without the sorting."""
    left = report.status == ChildStatus.LEFT_ENGLAND
    source = report.source
    merged = MergedChild(
        gender=report.gender,
        date_of_birth=report.date_of_birth,
        responsible_la_ons_code=report.responsible_la_ons_code,
        status=report.status,
        whereabouts=Whereabouts.NO_KNOWN_ADDRESS,
        left_england_intends_return=(
            report.left_england_intends_return or ReturnIntention.UNKNOWN if left else ""
        ),
        died_on=report.died_on if report.status == ChildStatus.DECEASED else None,
        left_england_on=report.left_england_on if left else None,
        shield_requested=report.is_shielded,
        field_sources=dict.fromkeys(_CHILD_FIELDS, source),
    )
    current = next(n for n in report.names if n.kind == NameKind.CURRENT)
    merged.names.append((NameRecord(current.given_names, current.family_name), source))
    seen = {_name_identity(current)}
    for name in report.names:
        identity = _name_identity(name)
        if identity not in seen:
            seen.add(identity)
            kind = NameKind.ALIAS if name.kind == NameKind.CURRENT else name.kind
            merged.names.append((NameRecord(name.given_names, name.family_name, kind), source))
    have_current = False
    for address in report.addresses:
        is_current = address.kind in (AddressKind.CURRENT, AddressKind.LAST_KNOWN)
        if is_current and not have_current:
            have_current = True
            address = dataclasses.replace(address, kind=AddressKind.CURRENT, to_date=None)
        elif address.kind != AddressKind.PREVIOUS:
            address = dataclasses.replace(address, kind=AddressKind.PREVIOUS)
        merged.addresses.append((address, source))
    merged.whereabouts = (
        Whereabouts.LEFT_ENGLAND
        if left
        else Whereabouts.CURRENT_ADDRESS
        if have_current
        else Whereabouts.NO_KNOWN_ADDRESS
    )
    merged.carers = [(c, source) for c in report.carers]
    merged.enrolments = _one_current(
        [(e, source) for e in report.enrolments],
        key=lambda e: e.school_urn,
        is_current=lambda e: e.ended_on is None,
    )
    merged.gp_registrations = _one_current(
        [(g, source) for g in report.gp_registrations],
        key=lambda g: g.practice_ods_code,
        is_current=lambda g: g.ended_on is None,
    )
    merged.involvements = [(i, source) for i in report.involvements]
    return merged


_CHILD_FIELDS = (
    ProvenancedChildField.GENDER,
    ProvenancedChildField.DATE_OF_BIRTH,
    ProvenancedChildField.RESPONSIBLE_LA,
    ProvenancedChildField.STATUS,
    ProvenancedChildField.WHEREABOUTS,
)


def _replace(record: Any, **changes: Any) -> Any:
    return dataclasses.replace(record, **changes)


def _one_current(
    items: list[tuple[Any, SourceRef]], *, key: Any, is_current: Any
) -> list[tuple[Any, SourceRef]]:
    """The first (winning) current entry, plus ended entries; other current entries are dropped.

    A school or GP that a lower-precedence source still reports as current is not ended here
    (that would invent an end date): it is simply not shown, and the source's version is kept
    in feeds.
    """
    kept: list[tuple[Any, SourceRef]] = []
    current_taken = False
    seen: set[tuple[str, bool]] = set()
    for item, source in items:
        identity = (key(item), is_current(item))
        if identity in seen:
            continue
        if is_current(item):
            if current_taken:
                continue
            current_taken = True
        seen.add(identity)
        kept.append((item, source))
    return kept


# --- Writing merged children -------------------------------------------------------------------


@dataclass(frozen=True)
class ChildWrite:
    """One child to write: a new one (with the id and ContactPoint ID reserved for it) or not."""

    child_id: int
    contactpoint_id: str
    merged: MergedChild
    is_new: bool


class ReferenceMaps:
    """Ids of local authorities, schools and practices by code, loaded once per writer."""

    def __init__(self) -> None:
        self.la_ids = dict(LocalAuthority.objects.values_list("ons_code", "id"))
        self.school_ids = dict(School.objects.values_list("urn", "id"))
        self.practice_ids = dict(GpPractice.objects.values_list("ods_code", "id"))

    def refresh(self) -> None:
        self.__init__()  # type: ignore[misc]


def _copied_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Concrete fields; generated ids are left out except for Child, whose ids are reserved."""
    return [
        f
        for f in model._meta.concrete_fields
        if model is Child or not isinstance(f, models.AutoField | models.BigAutoField)
    ]


@functools.cache
def _model_columns(model: type[models.Model]) -> list[str]:
    return [str(f.column) for f in _copied_fields(model)]


@functools.cache
def _copy_types(model: type[models.Model]) -> list[str]:
    """Each column's PostgreSQL type (without its modifier, as in varchar(64)), for COPY."""
    return [
        re.sub(r"\(.*\)", "", str(f.db_type(connection))).strip() for f in _copied_fields(model)
    ]


class _EncodedJsonbDumper(Dumper):
    """jsonb in binary COPY from JSON already encoded as text (insert_rows takes it so)."""

    format = pq.Format.BINARY
    oid = postgres.types.get_oid("jsonb")

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + str(obj).encode()  # the version byte of jsonb's binary form


def insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """Insert rows given as column dicts (every concrete column but a generated id).

    Binary COPY on PostgreSQL, executemany elsewhere: no model instances, no per-row round
    trips. JSON columns take already-encoded strings. Binary, with each column's type given,
    COPY took a third of the time text did, the client's formatting and the server's parsing
    alike (200,000 rows of nine columns: 0.17 s against 0.63 s).
    """
    if not rows:
        return
    columns = _model_columns(model)
    getter = operator.itemgetter(*columns)
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.cursor.adapters.register_dumper(None, _EncodedJsonbDumper)
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_copy_types(model))
                for row in rows:
                    copy.write_row(getter(row))
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({quoted}) VALUES ({marks})",  # noqa: S608 (names from model meta)
                [getter(row) for row in rows],
            )


_SQLITE_CHUNK = 400  # well inside SQLite's limit on bound parameters


def member_clauses(
    column: str, values: Sequence[Any], pg_type: str
) -> Iterable[tuple[str, list[Any]]]:
    """`column IN values` as (SQL, params) pieces covering every value.

    PostgreSQL gets one `= ANY(array)` clause: a fixed statement that psycopg and the server
    parse once however many values there are. SQLite gets IN lists of a few hundred.
    """
    if not values:
        return
    if connection.vendor == "postgresql":
        yield f"{column} = ANY(%s::{pg_type}[])", [list(values)]
        return
    for start in range(0, len(values), _SQLITE_CHUNK):
        chunk = list(values[start : start + _SQLITE_CHUNK])
        yield f"{column} IN ({', '.join(['%s'] * len(chunk))})", chunk


def _provenance(source: SourceRef, child_id: int) -> dict[str, Any]:
    return {
        "child_id": child_id,
        "source_system": source.source_system,
        "source_record_id": source.source_record_id,
        "received_at": source.received_at,
    }


class MergedChildWriter:
    """Writes merged children in bulk, replacing every part that came from a feed.

    `feed_sources` are the source system codes whose parts are rebuilt from reports; parts
    from anywhere else are left alone, and win over feed parts where only one can be current.

    An existing child's feed parts are compared with the rebuilt ones: rows that come out the
    same are kept, and only the rest are deleted and inserted. Linking one more report to a
    child changes a few of its rows, and rewriting all of them (and their indexes) was most of
    the database's work in a load. The result is the same rows as a full rewrite.
    """

    def __init__(self, *, feed_sources: Collection[str], reference: ReferenceMaps | None = None):
        self.feed_sources = sorted(set(feed_sources))
        self.reference = reference or ReferenceMaps()

    def write(self, writes: Sequence[ChildWrite]) -> None:
        """Write in the caller's transaction (the caller adds its outcome rows to the same one)."""
        if not writes:
            return
        now = timezone.now()
        existing = [w.child_id for w in writes if not w.is_new]
        held = _HeldSingletons()
        if existing:
            with connection.cursor() as cursor:
                for ids_clause, ids in member_clauses("child_id", existing, "bigint"):
                    held.load(cursor, ids_clause, ids, self.feed_sources)
        new_rows: list[dict[str, Any]] = []
        issued: list[dict[str, Any]] = []
        updates: list[tuple[Any, ...]] = []
        parts: dict[type[models.Model], list[dict[str, Any]]] = {m: [] for m in PART_MODELS}
        for w in writes:
            m = w.merged
            la_id = self.reference.la_ids[m.responsible_la_ons_code]
            if w.is_new:
                issued.append({"value": w.contactpoint_id, "issued_at": now})
                new_rows.append(
                    {
                        "id": w.child_id,
                        "contactpoint_id": w.contactpoint_id,
                        "gender": m.gender,
                        "date_of_birth": m.date_of_birth,
                        "status": m.status,
                        "whereabouts": m.whereabouts,
                        "left_england_intends_return": m.left_england_intends_return,
                        "responsible_la_id": la_id,
                        "is_shielded": m.shield_requested,
                        "died_on": m.died_on,
                        "left_england_on": m.left_england_on,
                        "archived_on": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            else:
                updates.append(
                    (
                        m.gender,
                        m.date_of_birth,
                        m.status,
                        m.whereabouts,
                        m.left_england_intends_return,
                        la_id,
                        m.died_on,
                        m.left_england_on,
                        now,
                        m.shield_requested,
                        w.child_id,
                    )
                )
            self._parts(w.child_id, m, parts, held)
        if existing:
            # Deletions first: a kept or new row may take a "one current" slot a stale row holds.
            stale = self._keep_unchanged(existing, parts)
            self._delete_rows(stale)
        if issued:
            insert_rows(IssuedContactPointId, issued)
            insert_rows(Child, new_rows)
        if updates:
            _update_children(updates)
        for model in PART_MODELS:
            insert_rows(model, parts[model])

    def _feed_rows_clauses(
        self, model: type[models.Model], child_ids: list[int]
    ) -> Iterable[tuple[str, list[Any]]]:
        """WHERE clauses selecting these children's feed-supplied rows of `model`."""
        for ids_clause, ids in member_clauses("child_id", child_ids, "bigint"):
            if model is ChildFieldSource:
                # One row per field whoever wrote it: all are rewritten from reports.
                yield ids_clause, ids
                continue
            for source_clause, codes in member_clauses("source_system", self.feed_sources, "text"):
                yield f"{ids_clause} AND {source_clause}", [*ids, *codes]

    def _keep_unchanged(
        self, child_ids: list[int], parts: dict[type[models.Model], list[dict[str, Any]]]
    ) -> dict[type[models.Model], list[int]]:
        """Drop from `parts` the rows already stored as they are; return the stored rows to delete.

        Rows are compared on every column but the id, as a multiset (two identical rows stay
        two rows). A value read back differently from how it was written only costs a
        needless rewrite, never a wrong row.
        """
        wanted = set(child_ids)
        stale: dict[type[models.Model], list[int]] = {}
        with connection.cursor() as cursor:
            for model in PART_MODELS:
                columns = _model_columns(model)
                table = connection.ops.quote_name(model._meta.db_table)
                selected = ", ".join(connection.ops.quote_name(c) for c in ["id", *columns])
                stored: dict[tuple[Any, ...], list[int]] = {}
                for clause, params in self._feed_rows_clauses(model, child_ids):
                    cursor.execute(f"SELECT {selected} FROM {table} WHERE {clause}", params)  # noqa: S608
                    for row_id, *values in cursor.fetchall():
                        stored.setdefault(tuple(values), []).append(row_id)
                getter = operator.itemgetter(*columns)
                to_insert: list[dict[str, Any]] = []
                for row in parts[model]:
                    same = stored.get(getter(row)) if row["child_id"] in wanted else None
                    if same:
                        same.pop()
                    else:
                        to_insert.append(row)
                parts[model] = to_insert
                stale[model] = [row_id for ids in stored.values() for row_id in ids]
        return stale

    def _delete_rows(self, stale: dict[type[models.Model], list[int]]) -> None:
        with connection.cursor() as cursor:
            for model, row_ids in stale.items():
                table = connection.ops.quote_name(model._meta.db_table)
                for clause, params in member_clauses("id", sorted(row_ids), "bigint"):
                    cursor.execute(f"DELETE FROM {table} WHERE {clause}", params)  # noqa: S608

    def _parts(
        self,
        child_id: int,
        m: MergedChild,
        parts: dict[type[models.Model], list[dict[str, Any]]],
        held: _HeldSingletons,
    ) -> None:
        for field_name, source in m.field_sources.items():
            parts[ChildFieldSource].append({**_provenance(source, child_id), "field": field_name})
        for name, source in m.names:
            kind = name.kind
            if kind == NameKind.CURRENT and child_id in held.current_name:
                kind = NameKind.ALIAS
            parts[ChildName].append(
                {
                    **_provenance(source, child_id),
                    **_cached_name_keys(name.given_names, name.family_name),
                    "kind": kind,
                    "given_names": _clean_name(name.given_names),
                    "family_name": _clean_name(name.family_name),
                    "date_of_birth": m.date_of_birth,
                }
            )
        for address, source in m.addresses:
            kind = address.kind
            if kind != AddressKind.PREVIOUS and child_id in held.current_address:
                kind = AddressKind.PREVIOUS
            postcode = _parse_postcode(address.postcode)
            parts[Address].append(
                {
                    **_provenance(source, child_id),
                    "kind": kind,
                    "line_1": address.line_1,
                    "line_2": address.line_2,
                    "town": address.town,
                    "postcode": str(postcode),
                    "postcode_district": postcode.district,
                    "postcode_sector": postcode.sector,
                    "from_date": address.from_date,
                    "to_date": address.to_date,
                }
            )
        for carer, source in m.carers:
            phone_1, phone_2, phone_3 = (*carer.phones, "", "", "")[:3]
            parts[Carer].append(
                {
                    **_provenance(source, child_id),
                    "given_names": carer.given_names,
                    "family_name": carer.family_name,
                    "family_name_key": _name_key(carer.family_name),
                    "relationship": carer.relationship,
                    "has_parental_responsibility": carer.has_parental_responsibility,
                    "lives_with_child": carer.lives_with_child,
                    "line_1": carer.line_1,
                    "line_2": carer.line_2,
                    "town": carer.town,
                    "postcode": carer.postcode,
                    "phone_1": phone_1,
                    "phone_2": phone_2,
                    "phone_3": phone_3,
                }
            )
        for enrolment, source in m.enrolments:
            if enrolment.ended_on is None and child_id in held.current_school:
                continue
            parts[SchoolEnrolment].append(
                {
                    **_provenance(source, child_id),
                    "school_id": self.reference.school_ids[enrolment.school_urn],
                    "started_on": enrolment.started_on,
                    "ended_on": enrolment.ended_on,
                }
            )
        for registration, source in m.gp_registrations:
            if registration.ended_on is None and child_id in held.current_gp:
                continue
            parts[GpRegistration].append(
                {
                    **_provenance(source, child_id),
                    "practice_id": self.reference.practice_ids[registration.practice_ods_code],
                    "registered_on": registration.registered_on,
                    "ended_on": registration.ended_on,
                }
            )
        for inv, source in m.involvements:
            lead = inv.is_lead_professional and child_id not in held.current_lead
            parts[Involvement].append(
                {
                    **_provenance(source, child_id),
                    "service_type": inv.service_type,
                    "other_service": inv.other_service,
                    "organisation_name": inv.organisation_name,
                    "practitioner_name": inv.practitioner_name,
                    "practitioner_role": inv.practitioner_role,
                    "phone": inv.phone,
                    "secure_email": inv.secure_email,
                    "started_on": inv.started_on,
                    "ended_on": inv.ended_on,
                    "is_lead_professional": lead,
                    "holds_caf_assessment": inv.holds_caf_assessment,
                    "caf_assessment_on": inv.caf_assessment_on,
                    "sensitive_basis": inv.sensitive_basis,
                }
            )


@dataclass
class _HeldSingletons:
    """Children whose non-feed parts already hold a 'one current ...' slot."""

    current_name: set[int] = field(default_factory=set)
    current_address: set[int] = field(default_factory=set)
    current_school: set[int] = field(default_factory=set)
    current_gp: set[int] = field(default_factory=set)
    current_lead: set[int] = field(default_factory=set)

    def load(
        self, cursor: Any, ids_clause: str, ids: list[Any], feed_sources: Sequence[str]
    ) -> None:
        """One query for all five kinds of slot (a UNION ALL) over parts not from a feed."""
        queries = (
            ("name", ChildName, "kind = 'current'"),
            ("address", Address, "kind IN ('current', 'last_known')"),
            ("school", SchoolEnrolment, "ended_on IS NULL"),
            ("gp", GpRegistration, "ended_on IS NULL"),
            ("lead", Involvement, "is_lead_professional AND ended_on IS NULL"),
        )
        codes: list[Any]
        if connection.vendor == "postgresql":
            not_feed, codes = "NOT (source_system = ANY(%s::text[]))", [list(feed_sources)]
        else:
            marks = ", ".join(["%s"] * len(feed_sources))
            not_feed, codes = f"source_system NOT IN ({marks})", list(feed_sources)
        if not feed_sources:
            not_feed, codes = "1 = 1", []
        union = " UNION ALL ".join(
            f"SELECT '{slot}', child_id FROM {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608 (constants)
            f"WHERE {ids_clause} AND {condition} AND {not_feed}"
            for slot, model, condition in queries
        )
        cursor.execute(union, [*ids, *codes] * len(queries))
        targets = {
            "name": self.current_name,
            "address": self.current_address,
            "school": self.current_school,
            "gp": self.current_gp,
            "lead": self.current_lead,
        }
        for slot, child_id in cursor.fetchall():
            targets[slot].add(child_id)


_CHILD_UPDATE_COLUMNS = (
    ("gender", "text"),
    ("date_of_birth", "date"),
    ("status", "text"),
    ("whereabouts", "text"),
    ("left_england_intends_return", "text"),
    ("responsible_la_id", "bigint"),
    ("died_on", "date"),
    ("left_england_on", "date"),
    ("updated_at", "timestamptz"),
    ("shield_requested", "boolean"),
    ("id", "bigint"),
)


def _update_children(updates: list[tuple[Any, ...]]) -> None:
    """Rewrite the child rows' own fields from their merged view.

    Shielding is only ever added here, never removed: removing it is a shielding officer's
    decision (issue 5: shielding is never lost by matching).
    """
    table = Child._meta.db_table
    assignments = (
        "gender = u.gender, date_of_birth = u.date_of_birth, status = u.status, "
        "whereabouts = u.whereabouts, left_england_intends_return = "
        "u.left_england_intends_return, responsible_la_id = u.responsible_la_id, "
        "died_on = u.died_on, left_england_on = u.left_england_on, updated_at = u.updated_at, "
        f"is_shielded = ({table}.is_shielded OR u.shield_requested)"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the batch: the columns as arrays, unnested side by side.
            arrays = ", ".join(f"%s::{t}[]" for _, t in _CHILD_UPDATE_COLUMNS)
            names = ", ".join(c for c, _ in _CHILD_UPDATE_COLUMNS)
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS u({names}) "  # noqa: S608
                f"WHERE {table}.id = u.id",
                [[row[i] for row in updates] for i in range(len(_CHILD_UPDATE_COLUMNS))],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET gender = %s, date_of_birth = %s, "  # noqa: S608
                "status = %s, whereabouts = %s, left_england_intends_return = %s, "
                "responsible_la_id = %s, died_on = %s, left_england_on = %s, "
                "updated_at = %s, is_shielded = (is_shielded OR %s) WHERE id = %s",
                updates,
            )


def reserve_children(count: int) -> list[tuple[int, str]]:
    """Database ids and fresh ContactPoint IDs for `count` new children (caller's transaction).

    Ids come from the table's own sequence on PostgreSQL, so concurrent writers never collide.
    ContactPoint IDs are drawn at random and checked against every ID ever issued; at national
    scale a random draw collides about once in ten thousand, so collisions are redrawn here
    rather than left to fail a whole batch at insert time.
    """
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Child._meta.db_table, count],
            )
            ids = [row[0] for row in cursor.fetchall()]
        else:
            top = Child.objects.aggregate(top=models.Max("id"))["top"] or 0
            ids = list(range(top + 1, top + 1 + count))
    wanted: set[str] = set()
    while len(wanted) < count:
        draw = {contactpoint_id.random_id() for _ in range(count - len(wanted))} - wanted
        taken = set(
            IssuedContactPointId.objects.filter(value__in=draw).values_list("value", flat=True)
        )
        wanted |= draw - taken
    return list(zip(ids, sorted(wanted), strict=True))


def write_merged(
    writes: Sequence[ChildWrite],
    *,
    feed_sources: Collection[str],
    reference: ReferenceMaps | None = None,
) -> None:
    """Write merged children (see MergedChildWriter) in the caller's transaction."""
    MergedChildWriter(feed_sources=feed_sources, reference=reference).write(writes)


@transaction.atomic
def create_child_from_reports(
    *, reports: Sequence[ChildRecord], precedence: FieldPrecedence, feed_sources: Collection[str]
) -> Child:
    """Create one child whose record is built from these reports."""
    ((child_id, value),) = reserve_children(1)
    write_merged(
        [ChildWrite(child_id, value, merge_reports(reports, precedence), is_new=True)],
        feed_sources=feed_sources,
    )
    return Child.objects.get(id=child_id)


@transaction.atomic
def rebuild_child(
    *,
    child: Child,
    reports: Sequence[ChildRecord],
    precedence: FieldPrecedence,
    feed_sources: Collection[str],
    shield_requested: bool | None = None,
) -> Child:
    """Rewrite a child's feed-supplied parts from its current set of reports.

    `shield_requested` says whether a source has just asked for the shield; by default any
    report's flag does (merge and unmerge keep every shield they can find).
    """
    merged = merge_reports(reports, precedence)
    if shield_requested is not None:
        merged.shield_requested = shield_requested
    write_merged(
        [ChildWrite(child.id, child.contactpoint_id, merged, False)],
        feed_sources=feed_sources,
    )
    child.refresh_from_db()
    return child


# --- Merge and unmerge -------------------------------------------------------------------------


def _snapshot(child: Child) -> dict[str, Any]:
    return {
        "contactpoint_id": child.contactpoint_id,
        "gender": child.gender,
        "date_of_birth": child.date_of_birth.isoformat(),
        "status": child.status,
        "whereabouts": child.whereabouts,
        "left_england_intends_return": child.left_england_intends_return,
        "responsible_la_id": child.responsible_la_id,
        "is_shielded": child.is_shielded,
        "died_on": child.died_on.isoformat() if child.died_on else None,
        "left_england_on": child.left_england_on.isoformat() if child.left_england_on else None,
        "archived_on": child.archived_on.isoformat() if child.archived_on else None,
        "created_at": child.created_at.isoformat(),
    }


# Non-feed parts that may hold a "one current" slot, and how a merge demotes them.
_DEMOTIONS: dict[type[models.Model], tuple[str, dict[str, Any], dict[str, Any]]] = {
    ChildName: ("kind", {"kind": NameKind.CURRENT}, {"kind": NameKind.ALIAS}),
    Address: (
        "kind",
        {"kind__in": [AddressKind.CURRENT, AddressKind.LAST_KNOWN]},
        {"kind": AddressKind.PREVIOUS},
    ),
    Involvement: (
        "is_lead_professional",
        {"is_lead_professional": True, "ended_on__isnull": True},
        {"is_lead_professional": False},
    ),
}


ReportsOf = Callable[[Child], Sequence[ChildRecord]]


@transaction.atomic
def merge_children(
    *,
    survivor: Child,
    absorbed: Child,
    reports_of: ReportsOf,
    precedence: FieldPrecedence,
    feed_sources: Collection[str],
    merged_by: str,
    reason: str,
) -> ChildMerge:
    """Merge `absorbed` into `survivor`: one child, rebuilt from both children's reports.

    Everything pointing at the absorbed child (its source records in feeds, a practitioner's
    involvement, other apps' rows) moves to the survivor and is listed in the ChildMerge, so
    that unmerge can move it back. `reports_of(child)` is asked for the survivor's reports
    after the move. The survivor keeps any shield either child had.
    """
    if survivor.pk == absorbed.pk:
        raise ValueError("a child cannot be merged with itself")
    survivor = Child.objects.select_for_update().get(pk=survivor.pk)
    absorbed = Child.objects.select_for_update().get(pk=absorbed.pk)
    snapshot = _snapshot(absorbed)
    shielded = survivor.is_shielded or absorbed.is_shielded

    # Feed parts of the absorbed child are rebuilt on the survivor from the reports.
    for model in PART_MODELS:
        rows = model._default_manager.filter(child=absorbed)
        if model is not ChildFieldSource:
            rows = rows.filter(source_system__in=list(feed_sources))
        rows.delete()
    moved = _move_related(absorbed, survivor)
    absorbed.delete()
    reports = reports_of(survivor)
    if reports:  # a child with no feed reports (say, generated directly) keeps its parts as moved
        write_merged(
            [
                ChildWrite(
                    survivor.id, survivor.contactpoint_id, merge_reports(reports, precedence), False
                )
            ],
            feed_sources=feed_sources,
        )
    if shielded:
        Child.objects.filter(pk=survivor.pk).update(is_shielded=True)
    return ChildMerge.objects.create(
        survivor=survivor,
        absorbed_contactpoint_id=snapshot["contactpoint_id"],
        absorbed_snapshot=snapshot,
        moved_rows=moved,
        merged_by=merged_by,
        reason=reason[:200],
    )


def _move_related(source: Child, target: Child) -> dict[str, list[dict[str, Any]]]:
    """Re-point every row that refers to `source` at `target`, demoting clashing singletons."""
    moved: dict[str, list[dict[str, Any]]] = {}
    # include_hidden: relations declared with related_name="+" point at the child too, and
    # would otherwise be deleted with it rather than moved.
    relations = [
        f
        for f in Child._meta.get_fields(include_hidden=True)
        if isinstance(f, models.ForeignObjectRel) and not f.many_to_many
    ]
    for relation in relations:
        model = relation.related_model
        if not isinstance(relation.field, models.ForeignKey):
            continue
        if model is ChildMerge and relation.field.name == "restored_child":
            continue  # earlier merges into the absorbed child follow it (their survivor moves)
        assert isinstance(model, type)
        fk = relation.field.name
        manager = model._default_manager
        demotion = _DEMOTIONS.get(model)
        target_holds = (
            demotion is not None and manager.filter(**{fk: target}, **demotion[1]).exists()
        )
        rows_moved = []
        for row in manager.filter(**{fk: source}):
            restore: dict[str, Any] = {}
            if demotion is not None and target_holds:
                attribute, held_filter, demoted = demotion
                if manager.filter(pk=row.pk, **held_filter).exists():
                    restore = {attribute: getattr(row, attribute)}
                    for key, value in demoted.items():
                        setattr(row, key, value)
            setattr(row, fk, target)
            row.save(update_fields=[fk, *restore])
            rows_moved.append({"pk": row.pk, "field": fk, "restore": restore})
        if rows_moved:
            moved[model._meta.label] = rows_moved
    return moved


@transaction.atomic
def unmerge_children(
    *,
    merge: ChildMerge,
    reports_of: ReportsOf,
    precedence: FieldPrecedence,
    feed_sources: Collection[str],
    unmerged_by: str,
) -> Child:
    """Undo a merge: the absorbed child comes back under its own ContactPoint ID.

    The rows the merge moved go back, then both halves are rebuilt from their own reports.
    If either child was shielded when merged, or the merged child is shielded now, both halves
    stay shielded until a shielding officer decides otherwise (issue 5).
    """
    merge = ChildMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.unmerged_at is not None:
        raise ValueError("this merge has already been undone")
    survivor = Child.objects.select_for_update().get(pk=merge.survivor_id)
    snap = merge.absorbed_snapshot
    shielded = survivor.is_shielded or bool(snap["is_shielded"])

    restored = Child(
        contactpoint_id=snap["contactpoint_id"],
        gender=snap["gender"],
        date_of_birth=dt.date.fromisoformat(snap["date_of_birth"]),
        status=snap["status"],
        whereabouts=snap["whereabouts"],
        left_england_intends_return=snap["left_england_intends_return"],
        responsible_la_id=snap["responsible_la_id"],
        is_shielded=shielded,
        died_on=_date(snap["died_on"]),
        left_england_on=_date(snap["left_england_on"]),
        archived_on=_date(snap["archived_on"]),
        created_at=dt.datetime.fromisoformat(snap["created_at"]),
        updated_at=timezone.now(),
    )
    restored.save(force_insert=True)

    for label, rows in merge.moved_rows.items():
        model = apps.get_model(label)
        for entry in rows:
            row = model._default_manager.filter(pk=entry["pk"]).first()
            if row is None:
                continue  # removed since the merge: nothing to move back
            setattr(row, entry["field"], restored)
            for key, value in entry["restore"].items():
                setattr(row, key, value)
            row.save(update_fields=[entry["field"], *entry["restore"]])

    writes = []
    for child in (survivor, restored):
        reports = reports_of(child)
        if reports:
            writes.append(
                ChildWrite(
                    child.id, child.contactpoint_id, merge_reports(reports, precedence), False
                )
            )
    write_merged(writes, feed_sources=feed_sources)
    if shielded:
        Child.objects.filter(pk__in=[survivor.pk, restored.pk]).update(is_shielded=True)
    merge.unmerged_at = timezone.now()
    merge.unmerged_by = unmerged_by
    merge.restored_child = restored
    merge.save(update_fields=["unmerged_at", "unmerged_by", "restored_child"])
    restored.refresh_from_db()
    return restored


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def resolve_contactpoint_id(value: str) -> Child | None:
    """The child a ContactPoint ID now denotes, following merges (an absorbed ID redirects)."""
    seen: set[str] = set()
    while value not in seen:
        seen.add(value)
        child = Child.objects.filter(contactpoint_id=value).first()
        if child is not None:
            return child
        merge = (
            ChildMerge.objects.filter(absorbed_contactpoint_id=value, unmerged_at__isnull=True)
            .select_related("survivor")
            .first()
        )
        if merge is None:
            return None
        value = merge.survivor.contactpoint_id
    return None
