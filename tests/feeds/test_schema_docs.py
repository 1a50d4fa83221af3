"""The documented schema is the validator's schema, and the documented examples load cleanly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import pytest

from contactpoint.feeds.loading import load_file
from contactpoint.feeds.models import SourceSystem
from contactpoint.feeds.schema import FIELD_NAMES, json_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_feed_schema_json_is_generated_from_the_field_table() -> None:
    documented = json.loads((DOCS / "feed-schema.json").read_text(encoding="utf-8"))
    assert documented == json_schema(), "run `contactpoint feeds schema` to regenerate it"


def test_the_schema_lists_every_field_and_refuses_any_other() -> None:
    schema = json_schema()
    assert list(schema["properties"]) == list(FIELD_NAMES)
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"source_record_id": "X1", "case_notes": "at risk"})
    assert not validator.is_valid({"given_names": "Amelia"})  # no source_record_id
    assert validator.is_valid({"source_record_id": "X1", "event_type": "withdraw"})


def example_rows() -> list[dict[str, str]]:
    with (DOCS / "examples" / "feed-example.csv").open(newline="", encoding="utf-8") as handle:
        from_csv = [{k: v for k, v in row.items() if v} for row in csv.DictReader(handle)]
    lines = (DOCS / "examples" / "feed-example.jsonl").read_text(encoding="utf-8").splitlines()
    from_jsonl = [json.loads(line) for line in lines]
    assert from_csv == from_jsonl, "the CSV and JSON Lines examples should say the same"
    return from_jsonl


def test_the_example_files_say_the_same_and_satisfy_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    for row in example_rows():
        assert list(validator.iter_errors(row)) == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["feed-example.csv", "feed-example.jsonl"])
def test_the_example_files_load_without_a_rejected_row(education: SourceSystem, name: str) -> None:
    load = load_file(source=education, path=DOCS / "examples" / name).load
    assert load.rows_rejected == 0, list(load.rows.values_list("reason", flat=True))
    assert load.rows_new == 4 and load.rows_unchanged == 1  # the withdrawal names no record
