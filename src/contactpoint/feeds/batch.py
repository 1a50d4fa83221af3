"""Feed files as matching data: for training the model and for batch de-duplication.

These read feed files with the same validation and normalisation as a load (so training sees
exactly what online matching sees) but write nothing: reference codes are taken on trust.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from django.utils import timezone

from contactpoint.feeds import reading
from contactpoint.feeds.loading import nhs_number_key
from contactpoint.feeds.schema import EventType, RecordPart
from contactpoint.feeds.validation import RowContext, RowRejected, parse_row
from contactpoint.matching.features import MatchRecord


def training_context(source_code: str) -> RowContext:
    """A permissive context: every part allowed, codes not looked up."""
    return RowContext(
        source_code=source_code,
        allowed_parts=frozenset(RecordPart.values),
        organisation_la_code="",
        received_at=timezone.now(),
        today=timezone.localdate(),
        nhs_key=nhs_number_key(),
        la_codes=frozenset(),
        district_la={},
        school_urns=frozenset(),
        practice_codes=frozenset(),
        check_references=False,
    )


def source_code_for(path: Path) -> str:
    """The source a synthetic feed file came from: its name without the suffix."""
    return path.name.split(".")[0]


def match_records(paths: Sequence[Path]) -> Iterator[tuple[str, MatchRecord]]:
    """(unique id 'source:record id', features) for every valid upsert row of these files."""
    for path in paths:
        code = source_code_for(path)
        context = training_context(code)
        for raw in reading.read_path(path):
            if raw.error:
                continue
            try:
                row = parse_row(raw.line, raw.values, context)
            except RowRejected:
                continue
            if row.event is EventType.WITHDRAW or row.match is None:
                continue
            yield f"{code}:{row.source_record_id}", row.match
