"""Log lines never hold a shielded child's whereabouts (issue 7, Tests), even when storing a feed
batch fails: PostgreSQL's error text quotes the failing row ("Failing row contains (...)"), so
the loader's log line names the error, the line and where it happened, not the error's text.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError
from tests.feeds.conftest import amelia, write_csv
from tests.shielding.support import HIDDEN

from contactpoint.feeds import loading
from contactpoint.feeds.loading import load_file
from contactpoint.feeds.models import SourceSystem
from contactpoint.index.models import Child

pytestmark = pytest.mark.django_db


def test_a_batch_that_fails_to_store_logs_no_location_detail(
    health: SourceSystem,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write = loading.MergedChildWriter.write
    calls: list[int] = []

    def write_failing_once(self: Any, writes: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the batch fails; row by row it stores
            raise IntegrityError(
                'new row for relation "index_address" violates check constraint\n'
                f"DETAIL:  Failing row contains (7, {HIDDEN.line_1}, , {HIDDEN.town}, "
                f"{HIDDEN.postcode})."
            )
        return real_write(self, writes)

    monkeypatch.setattr(loading.MergedChildWriter, "write", write_failing_once)
    rows = [
        amelia(
            source_record_id="NHS-1",
            address_line_1=HIDDEN.line_1,
            town=HIDDEN.town,
            postcode=HIDDEN.postcode,
            sensitive_record="yes",
        )
    ]
    caplog.set_level(logging.DEBUG)

    load_file(source=health, path=write_csv(tmp_path / "1.csv", rows))

    assert Child.objects.get().is_shielded  # the row was stored on the retry
    failures = [r for r in caplog.records if r.name == loading.__name__]
    assert failures, "the failed batch is logged"
    assert "IntegrityError" in caplog.text and "line 2" in caplog.text
    for value in (HIDDEN.line_1, HIDDEN.town, HIDDEN.postcode):
        assert value not in caplog.text
