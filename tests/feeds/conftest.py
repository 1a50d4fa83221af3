"""Fixtures for feeds: registered source systems, a school and a GP practice, feed files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from contactpoint.access.models import Organisation
from contactpoint.feeds.models import SourceSystem, SourceSystemKind
from contactpoint.feeds.schema import RecordPart
from contactpoint.feeds.services import register_source_system
from contactpoint.index.models import GpPractice, LocalAuthority, School

MANCHESTER = "E08000003"
ALL_PARTS = [p.value for p in RecordPart]


@pytest.fixture
def reference(db: None) -> dict[str, Any]:
    """A Manchester primary school and GP practice that feeds may refer to."""
    manchester = LocalAuthority.objects.get(ons_code=MANCHESTER)
    school = School.objects.create(
        urn="105432",
        name="Victoria Road Primary School",
        phase="primary",
        local_authority=manchester,
        postcode="M14 5AB",
        phone="0161 496 0100",
        email="office@victoriaroad.sch.example",
    )
    practice = GpPractice.objects.create(
        ods_code="P84001",
        name="Rusholme Health Centre",
        local_authority=manchester,
        postcode="M14 5NP",
        phone="0161 496 0200",
    )
    return {"la": manchester, "school": school, "practice": practice}


@pytest.fixture
def make_source(db: None, reference: dict[str, Any]) -> Callable[..., SourceSystem]:
    def make(
        code: str = "mcr-education",
        kind: str = SourceSystemKind.LA_EDUCATION,
        parts: Sequence[str] = tuple(ALL_PARTS),
    ) -> SourceSystem:
        organisation = Organisation.objects.get(kind="local_authority", name="Manchester")
        return register_source_system(
            actor=None,
            code=code,
            name=code.replace("-", " ").title(),
            kind=kind,
            organisation=organisation,
            allowed_parts=parts,
        ).source

    return make


@pytest.fixture
def education(make_source: Callable[..., SourceSystem]) -> SourceSystem:
    return make_source()


@pytest.fixture
def health(make_source: Callable[..., SourceSystem]) -> SourceSystem:
    return make_source("nw-health", SourceSystemKind.HEALTH_REGISTRATION)


def years_ago(years: int, month: int = 3, day: int = 14) -> str:
    today = timezone.localdate()
    return dt.date(today.year - years, month, day).isoformat()


def amelia(**changes: str) -> dict[str, str]:
    """Amelia O'Neill, 7, of 14 Victoria Road, Manchester, as a feed row."""
    row = {
        "source_record_id": "MCR-000123",
        "given_names": "Amelia Rose",
        "family_name": "O'Neill",
        "date_of_birth": years_ago(7),
        "gender": "female",
        "address_line_1": "14 Victoria Road",
        "town": "Manchester",
        "postcode": "M14 5AB",
        "carer_1_given_names": "Sarah",
        "carer_1_family_name": "O'Neill",
        "carer_1_relationship": "mother",
        "carer_1_parental_responsibility": "yes",
        "carer_1_phone": "07700 900123",
        "school_urn": "105432",
        "school_start_date": years_ago(3, 9, 1),
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def write_csv(
    path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] | None = None
) -> Path:
    columns = list(header or dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def csv_bytes(rows: Sequence[dict[str, str]]) -> bytes:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue().encode("utf-8")


COMMAND = str(Path(sys.executable).with_name("contactpoint"))


@pytest.fixture
def scratch_database(
    tmp_path: Path,
) -> Iterator[tuple[str, Callable[[str], list[tuple[Any, ...]]]]]:
    """A database URL for the subprocess, and a function that runs a query against it."""
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        import psycopg

        name = f"contactpoint_kill_{os.getpid()}"
        admin = base.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        url = f"{base.rsplit('/', 1)[0]}/{name}"

        def query(sql: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(url) as connection:
                return list(connection.execute(sql).fetchall())

        yield url, query
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / "kill.sqlite3"

        def query(sql: str) -> list[tuple[Any, ...]]:
            with sqlite3.connect(path, timeout=30) as connection:
                return list(connection.execute(sql).fetchall())

        yield f"sqlite:///{path}", query


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [COMMAND, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
