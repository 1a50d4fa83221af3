"""Reading feed files as a stream of rows, never whole: a 2 GB file uses the memory of one line.

Every physical problem (bad encoding, a missing header, a truncated last line, a line too long,
broken JSON) becomes a `RawRow` carrying the error and its line number, so the loader reports
it like any other rejected row and carries on. Nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from contactpoint.feeds.schema import FIELD_NAMES, looks_like_field_name

MAX_LINE_BYTES = 1 << 20  # a row longer than 1 MiB cannot be a child's record
_KNOWN = frozenset(FIELD_NAMES)
_BOM = b"\xef\xbb\xbf"


class FeedFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def guess_format(path: Path) -> FeedFormat:
    """CSV unless the file name ends in .jsonl, .ndjson or .json."""
    suffix = path.suffix.lower()
    return FeedFormat.JSONL if suffix in {".jsonl", ".ndjson", ".json"} else FeedFormat.CSV


@dataclass(slots=True)
class RawRow:
    """One row as read: its values, or why it could not be read. `line` is 1-based."""

    line: int
    values: dict[str, str] = field(default_factory=dict)
    error: str = ""
    source_record_id: str = ""


@dataclass(slots=True)
class _Line:
    number: int
    text: str
    problem: str  # encoding or length trouble found while reading the bytes
    terminated: bool


def _physical_lines(handle: BinaryIO) -> Iterator[_Line]:
    """Lines of a binary file, decoded as UTF-8 one at a time, with their problems."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        problem = ""
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            # Skip the rest of an over-long line without holding it in memory.
            while True:
                more = handle.readline(MAX_LINE_BYTES)
                if not more or more.endswith(b"\n"):
                    break
            yield _Line(number, "", f"line is longer than {MAX_LINE_BYTES} bytes", True)
            continue
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        terminated = raw.endswith(b"\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            text = raw.decode("utf-8", errors="replace")
            problem = (
                f"line is not UTF-8 (byte 0x{raw[error.start]:02x} at position "
                f"{error.start + 1}); send files encoded as UTF-8"
            )
        yield _Line(number, text, problem, terminated)


def read_rows(handle: BinaryIO, feed_format: FeedFormat) -> Iterator[RawRow]:
    """Rows of a feed file in order, each with its first line number."""
    if feed_format is FeedFormat.JSONL:
        yield from _jsonl_rows(handle)
    else:
        yield from _csv_rows(handle)


def read_path(path: Path, feed_format: FeedFormat | None = None) -> Iterator[RawRow]:
    with path.open("rb") as handle:
        yield from read_rows(handle, feed_format or guess_format(path))


# --- JSON Lines --------------------------------------------------------------------------------


def _jsonl_rows(handle: BinaryIO) -> Iterator[RawRow]:
    for line in _physical_lines(handle):
        if line.problem:
            yield RawRow(line.number, error=line.problem)
            continue
        if not line.text.strip():
            continue
        try:
            item = json.loads(line.text)
        except json.JSONDecodeError as error:
            hint = " (the line ends early: truncated file?)" if not line.terminated else ""
            yield RawRow(line.number, error=f"not valid JSON: {error.msg}{hint}")
            continue
        if not isinstance(item, dict):
            yield RawRow(line.number, error="each line must be a JSON object")
            continue
        row = RawRow(line.number)
        record_id = item.get("source_record_id")
        row.source_record_id = record_id.strip()[:64] if isinstance(record_id, str) else ""
        unknown = sorted(k for k in item if k not in _KNOWN)
        if unknown:
            row.error = _unknown_fields_message(unknown)
            yield row
            continue
        wrong_type = sorted(k for k, v in item.items() if v is not None and not isinstance(v, str))
        if wrong_type:
            row.error = "values must be strings or null: " + ", ".join(wrong_type)
            yield row
            continue
        row.values = {k: v for k, v in item.items() if isinstance(v, str)}
        yield row


def _unknown_fields_message(unknown: list[str]) -> str:
    shown = ", ".join(name[:40] for name in unknown[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    return (
        f"fields not in the ContactPoint feed schema: {shown}{more} "
        "(ContactPoint holds no case information; see docs/feeds.md)"
    )


# --- CSV ---------------------------------------------------------------------------------------


class _LineFeeder:
    """Feeds decoded lines to csv.reader while remembering which ones had problems."""

    def __init__(self, lines: Iterator[_Line]) -> None:
        self._lines = lines
        self.problems: dict[int, str] = {}
        self.last: _Line | None = None

    def __iter__(self) -> _LineFeeder:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.last = line
        if line.problem:
            self.problems[line.number] = line.problem
        return line.text


def _csv_rows(handle: BinaryIO) -> Iterator[RawRow]:
    feeder = _LineFeeder(_physical_lines(handle))
    reader = csv.reader(feeder, strict=True)
    header: list[str] | None = None
    header_error = ""
    consumed = 0  # physical lines consumed so far, to give each row its first line number
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            first = consumed + 1
            consumed = reader.line_num
            truncated = feeder.last is not None and not feeder.last.terminated
            reason = "the last line is incomplete (truncated file?)" if truncated else str(error)
            yield RawRow(first, error=f"not valid CSV: {reason}")
            continue
        first, consumed = consumed + 1, reader.line_num
        problem = next(
            (feeder.problems.pop(n) for n in range(first, consumed + 1) if n in feeder.problems),
            "",
        )
        blank = not cells or (len(cells) == 1 and not cells[0].strip())
        if blank and not problem:
            continue  # a blank line is not a row
        if header is not None and problem:
            yield RawRow(first, error=problem, source_record_id=_id_from(header, cells))
            continue
        if header is None:
            header, header_error = _check_header(cells, problem)
            if header_error and not header:
                # No header at all: this line is data, and so is every line after it.
                yield RawRow(first, error=header_error, source_record_id=cells[0][:64])
                header = []
            continue
        if header_error:
            record_id = _id_from(header, cells) if header else cells[0].strip()[:64]
            yield RawRow(first, error=header_error, source_record_id=record_id)
            continue
        if len(cells) != len(header):
            truncated = (
                consumed == (feeder.last.number if feeder.last else 0)
                and feeder.last is not None
                and not feeder.last.terminated
                and len(cells) < len(header)
            )
            detail = f"{len(cells)} fields where the header has {len(header)}"
            reason = (
                f"the last line is incomplete (truncated file?): {detail}" if truncated else detail
            )
            yield RawRow(first, error=reason, source_record_id=_id_from(header, cells))
            continue
        values = dict(zip(header, cells, strict=True))
        yield RawRow(first, values=values, source_record_id=values["source_record_id"][:64])


def _id_from(header: list[str], cells: list[str]) -> str:
    try:
        return cells[header.index("source_record_id")].strip()[:64]
    except (ValueError, IndexError):
        return ""


def _check_header(cells: list[str], problem: str) -> tuple[list[str], str]:
    """The header's field names, and a file-level error that rejects every row if any."""
    names = [c.strip().lower() for c in cells]
    if problem:
        return names, f"the header line is unreadable ({problem}): no row can be read"
    if "source_record_id" not in names:
        if not any(n in _KNOWN for n in names) or not all(looks_like_field_name(n) for n in names):
            return [], (
                "the file has no header line: the first line must name the fields, "
                "starting with source_record_id (see docs/feeds.md)"
            )
        return names, "the header has no source_record_id column: no row can be identified"
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        return names, "the header repeats fields: " + ", ".join(duplicated)
    unknown = sorted(n for n in names if n not in _KNOWN)
    if unknown:
        return names, "the header has " + _unknown_fields_message(unknown)
    return names, ""


def text_stream(data: bytes) -> io.BytesIO:
    """Bytes as a file for read_rows (the API receives uploads this way)."""
    return io.BytesIO(data)
