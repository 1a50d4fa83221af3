"""Fast bulk writes of whole child records: COPY on PostgreSQL, batched inserts on SQLite.

Used for initial loads (the synthetic generator now, a national load later). Rows are written
exactly as services.create_child would write them, keys included, but without per-row
full_clean(): callers supply records that are valid by construction and tests check a sample.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from contactpoint.index import normalise
from contactpoint.index.models import (
    Address,
    Carer,
    Child,
    ChildFieldSource,
    ChildName,
    GpPractice,
    GpRegistration,
    Involvement,
    IssuedContactPointId,
    LocalAuthority,
    School,
    SchoolEnrolment,
)
from contactpoint.index.records import ChildRecord, involvement_values
from contactpoint.index.vocabularies import ProvenancedChildField


def _columns(model: type[models.Model], *, with_pk: bool = False) -> list[str]:
    return [
        str(f.column)
        for f in model._meta.concrete_fields
        if with_pk or not f.primary_key or not isinstance(f, models.AutoField | models.BigAutoField)
    ]


@dataclass(frozen=True, slots=True)
class NumberedChild:
    """A record with the database id and ContactPoint ID it is to be written under."""

    child_id: int
    contactpoint_id: str
    record: ChildRecord


@dataclass
class _Batch:
    rows: dict[type[models.Model], list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, model: type[models.Model], row: tuple[Any, ...]) -> None:
        self.rows.setdefault(model, []).append(row)


_PROVENANCED_FIELDS: tuple[str, ...] = tuple(ProvenancedChildField.values)

# Parents first, so that foreign keys hold at every statement on SQLite.
_WRITE_ORDER: tuple[type[models.Model], ...] = (
    IssuedContactPointId,
    Child,
    ChildFieldSource,
    ChildName,
    Address,
    Carer,
    SchoolEnrolment,
    GpRegistration,
    Involvement,
)


class BulkIndexWriter:
    """Writes batches of numbered child records in one transaction per batch."""

    def __init__(self) -> None:
        self.la_ids = dict(LocalAuthority.objects.values_list("ons_code", "id"))
        self.school_ids = dict(School.objects.values_list("urn", "id"))
        self.practice_ids = dict(GpPractice.objects.values_list("ods_code", "id"))
        self.columns = {
            model: _columns(model, with_pk=model in (Child, IssuedContactPointId))
            for model in _WRITE_ORDER
        }

    def refresh_reference(self) -> None:
        """Reload the URN and ODS code maps after schools or practices were added."""
        self.school_ids = dict(School.objects.values_list("urn", "id"))
        self.practice_ids = dict(GpPractice.objects.values_list("ods_code", "id"))

    def write(self, children: Sequence[NumberedChild]) -> None:
        batch = _Batch()
        now = timezone.now()
        for numbered in children:
            self._add_child(batch, numbered, now)
        with transaction.atomic():
            for model in _WRITE_ORDER:
                rows = batch.rows.get(model)
                if rows:
                    self._insert(model, rows)

    def _add_child(self, batch: _Batch, numbered: NumberedChild, now: dt.datetime) -> None:
        record, child_id = numbered.record, numbered.child_id
        src = record.source
        prov = {
            "source_system": src.source_system,
            "source_record_id": src.source_record_id,
            "received_at": src.received_at,
            "child_id": child_id,
        }
        add = batch.add
        cols = self.columns
        add(IssuedContactPointId, (numbered.contactpoint_id, now))
        add(
            Child,
            _ordered(
                cols[Child],
                id=child_id,
                contactpoint_id=numbered.contactpoint_id,
                gender=record.gender,
                date_of_birth=record.date_of_birth,
                status=record.status,
                whereabouts=record.whereabouts,
                left_england_intends_return=record.left_england_intends_return,
                responsible_la_id=self.la_ids[record.responsible_la_ons_code],
                is_shielded=record.is_shielded,
                died_on=record.died_on,
                left_england_on=record.left_england_on,
                archived_on=record.archived_on,
                created_at=now,
                updated_at=now,
            ),
        )
        for provenanced in _PROVENANCED_FIELDS:
            add(ChildFieldSource, _ordered(cols[ChildFieldSource], **prov, field=provenanced))
        for name in record.names:
            add(
                ChildName,
                _ordered(
                    cols[ChildName],
                    **prov,
                    **name_keys(name.given_names, name.family_name),
                    kind=name.kind,
                    given_names=name.given_names,
                    family_name=name.family_name,
                    date_of_birth=record.date_of_birth,
                ),
            )
        for address in record.addresses:
            postcode = normalise.parse_postcode(address.postcode)
            add(
                Address,
                _ordered(
                    cols[Address],
                    **prov,
                    kind=address.kind,
                    line_1=address.line_1,
                    line_2=address.line_2,
                    town=address.town,
                    postcode=str(postcode),
                    postcode_district=postcode.district,
                    postcode_sector=postcode.sector,
                    from_date=address.from_date,
                    to_date=address.to_date,
                ),
            )
        for carer in record.carers:
            phone_1, phone_2, phone_3 = (*carer.phones, "", "", "")[:3]
            add(
                Carer,
                _ordered(
                    cols[Carer],
                    **prov,
                    given_names=carer.given_names,
                    family_name=carer.family_name,
                    family_name_key=normalise.name_key(carer.family_name),
                    relationship=carer.relationship,
                    has_parental_responsibility=carer.has_parental_responsibility,
                    lives_with_child=carer.lives_with_child,
                    line_1=carer.line_1,
                    line_2=carer.line_2,
                    town=carer.town,
                    postcode=carer.postcode,
                    phone_1=phone_1,
                    phone_2=phone_2,
                    phone_3=phone_3,
                ),
            )
        for enrolment in record.enrolments:
            add(
                SchoolEnrolment,
                _ordered(
                    cols[SchoolEnrolment],
                    **prov,
                    school_id=self.school_ids[enrolment.school_urn],
                    started_on=enrolment.started_on,
                    ended_on=enrolment.ended_on,
                ),
            )
        for registration in record.gp_registrations:
            add(
                GpRegistration,
                _ordered(
                    cols[GpRegistration],
                    **prov,
                    practice_id=self.practice_ids[registration.practice_ods_code],
                    registered_on=registration.registered_on,
                    ended_on=registration.ended_on,
                ),
            )
        for inv in record.involvements:
            add(
                Involvement,
                _ordered(cols[Involvement], **prov, **involvement_values(inv)),
            )

    def _insert(self, model: type[models.Model], rows: list[tuple[Any, ...]]) -> None:
        table = model._meta.db_table
        columns = self.columns[model]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                raw = cursor.cursor  # psycopg 3 cursor: COPY is an order of magnitude faster
                with raw.copy(
                    f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})",  # noqa: S608 (names from model meta)
                    rows,
                )

    def finish(self) -> None:
        """Move the child id sequence past the ids written explicitly (PostgreSQL only)."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    "COALESCE((SELECT MAX(id) FROM index_child), 1))",
                    [Child._meta.db_table],
                )


def name_keys(given_names: str, family_name: str) -> dict[str, str]:
    """The search keys stored beside a name (see index.normalise)."""
    given_key = normalise.first_given_name_key(given_names)
    return {
        "given_name_key": given_key,
        "family_name_key": normalise.name_key(family_name),
        "given_name_phonetic": normalise.phonetic_key(given_key),
        "family_name_phonetic": normalise.phonetic_key(family_name),
    }


def _ordered(columns: Iterable[str], **values: Any) -> tuple[Any, ...]:
    return tuple(values[c] for c in columns)


def next_child_id() -> int:
    """The first free child id, for a writer that numbers children itself."""
    latest = Child.objects.aggregate(top=models.Max("id"))["top"]
    return (latest or 0) + 1
