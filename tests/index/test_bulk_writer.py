"""The bulk writer stores exactly what the validated one-child service stores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import models
from tests.index.records import child_record

from contactpoint.index import contactpoint_id
from contactpoint.index.bulk import BulkIndexWriter, NumberedChild, next_child_id
from contactpoint.index.models import Child, IssuedContactPointId
from contactpoint.index.services import create_child

pytestmark = pytest.mark.django_db

IGNORED = {"id", "child", "created_at", "updated_at", "received_at", "contactpoint_id"}
PARTS = (
    "names",
    "addresses",
    "carers",
    "enrolments",
    "gp_registrations",
    "involvements",
    "field_sources",
)


def _values(instance: models.Model) -> dict[str, Any]:
    return {
        f.name: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if f.name not in IGNORED
    }


def snapshot(child: Child) -> dict[str, Any]:
    """Every stored value of a child and its parts, less identities and timestamps."""
    result: dict[str, Any] = {"child": _values(child)}
    for part in PARTS:
        rows = [_values(row) for row in getattr(child, part).all()]
        result[part] = sorted(rows, key=repr)
    return result


def test_bulk_and_validated_writes_store_identical_records() -> None:
    record = child_record()
    validated = create_child(record=record)

    writer = BulkIndexWriter()
    bulk_id = next_child_id()
    cp_id = contactpoint_id.permuted_id(bulk_id, seed=1)
    writer.write([NumberedChild(child_id=bulk_id, contactpoint_id=cp_id, record=record)])
    writer.finish()
    bulk = Child.objects.get(contactpoint_id=cp_id)

    assert snapshot(bulk) == snapshot(validated)
    assert IssuedContactPointId.objects.filter(value=cp_id).exists()
    bulk.full_clean()
    for part in PARTS:
        for row in getattr(bulk, part).all():
            row.full_clean()


def test_the_id_sequence_moves_past_bulk_written_children() -> None:
    writer = BulkIndexWriter()
    first = next_child_id()
    writer.write(
        [
            NumberedChild(
                child_id=first + n,
                contactpoint_id=contactpoint_id.permuted_id(first + n, seed=3),
                record=child_record(),
            )
            for n in range(3)
        ]
    )
    writer.finish()
    later = create_child(record=child_record(date_of_birth=dt.date(2015, 3, 4)))
    assert later.pk > first + 2
