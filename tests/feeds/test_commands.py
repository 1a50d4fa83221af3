"""The commands: generate_feeds, feeds register-synthetic / load / report / sources, matching."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from contactpoint.feeds.models import FeedLoad, SourceSystem
from contactpoint.index.models import Child

pytestmark = pytest.mark.django_db


def command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_generated_feeds_register_and_load_end_to_end(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    written = command("generate_feeds", str(feeds), "--children", "120", "--seed", "3", "-v0")
    assert "source records about" in written
    command("feeds", "register-synthetic", str(feeds))
    assert set(SourceSystem.objects.values_list("code", flat=True)) == {
        "nw-health",
        "nw-education",
        "nw-benefit",
    }
    report = tmp_path / "health.report.csv"
    output = command(
        "feeds", "load", str(feeds / "nw-health.csv"), "--source", "nw-health",
        "--report", str(report), "--quiet",
    )  # fmt: skip
    assert "new" in output and str(report) in output
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert len(rows) == FeedLoad.objects.get().rows_total > 100
    assert Child.objects.count() == FeedLoad.objects.get().rows_new
    again = command("feeds", "report", str(FeedLoad.objects.get().pk))
    assert (
        again.splitlines()[0] == "line,source_record_id,outcome,contactpoint_id,match_weight,reason"
    )
    assert "nw-health" in command("feeds", "sources")


def test_loading_from_an_unknown_source_says_which_exist(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("source_record_id\nX1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="no source system 'nobody'"):
        command("feeds", "load", str(path), "--source", "nobody")


def test_register_prints_the_credential_once(make_source: object) -> None:
    output = command(
        "feeds", "register", "wigan-social-care", "--name", "Wigan social care",
        "--kind", "la_social_care", "--organisation", "national-team", "--parts", "child,involvements",
    )  # fmt: skip
    assert "cpsrc_" in output
    source = SourceSystem.objects.get(code="wigan-social-care")
    assert source.allowed_parts == ["child", "involvements"]
    assert "cpsrc_" not in command("feeds", "sources")


def test_the_schema_command_writes_the_documented_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    command("feeds", "schema", "--output", str(out))
    documented = Path(__file__).resolve().parents[2] / "docs" / "feed-schema.json"
    assert out.read_text() == documented.read_text()


def test_matching_show_prints_every_level() -> None:
    output = command("matching", "show")
    assert "name" in output and "family_agrees_given_differs" in output and "nhs_number" in output
