"""The indexes the migrations leave: none twice, and none of the partial unique ones lost."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# An index whose column leads another index (or is indexed twice) costs every write and serves
# no lookup the other does not: migrations index 0004 and feeds 0002 dropped these.
REDUNDANT = {
    "index_child": "index_child_responsible_la_id_030c5c02",
    "index_childfieldsource": "index_childfieldsource_child_id_4f26a30c",
    "index_gpregistration": "index_gpregistration_practice_id_8df6ea81",
    "index_involvement": "index_involvement_child_id_abb63447",
    "index_schoolenrolment": "index_schoolenrolment_school_id_b2565468",
    "feeds_loadrow": "feeds_loadrow_load_id_a5c8bbb8",
    "feeds_sourcerecord": "feeds_sourcerecord_source_id_2a7a2581",
}
# What serves each dropped index's lookups instead (leading column first), and the partial
# unique indexes on the same columns, which enforce rules and must survive.
KEPT = {
    "index_child": {"child_la_status": ["responsible_la_id", "status"]},
    "index_childfieldsource": {"one_source_per_child_field": ["child_id", "field"]},
    "index_gpregistration": {
        "registration_practice": ["practice_id"],
        "one_current_gp": ["child_id"],
    },
    "index_involvement": {
        "involvement_current": ["child_id", "ended_on"],
        "one_current_lead_professional": ["child_id"],
    },
    "index_schoolenrolment": {
        "enrolment_school": ["school_id"],
        "one_current_school": ["child_id"],
    },
    "feeds_loadrow": {"one_outcome_per_line": ["load_id", "line"]},
    "feeds_sourcerecord": {"one_record_per_source_id": ["source_id", "source_record_id"]},
}


def indexes_of(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: list(info["columns"])
        for name, info in constraints.items()
        if info["index"] or info["unique"]
    }


@pytest.mark.parametrize("table", sorted(REDUNDANT))
def test_no_index_is_kept_that_another_makes_redundant(table: str) -> None:
    assert REDUNDANT[table] not in indexes_of(table)


@pytest.mark.parametrize("table", sorted(KEPT))
def test_the_indexes_that_serve_those_lookups_and_the_partial_unique_ones_remain(
    table: str,
) -> None:
    indexes = indexes_of(table)
    for name, columns in KEPT[table].items():
        assert indexes.get(name) == columns, (name, indexes)
