"""Reading feed files: every physical problem becomes a reported row, and nothing is read whole."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from contactpoint.feeds.reading import MAX_LINE_BYTES, FeedFormat, RawRow, read_rows

HEADER = "source_record_id,given_names,family_name,date_of_birth,gender\n"
ROW = "MCR-{n},Amelia,O'Neill,2018-03-14,female\n"


def rows_of(data: bytes, feed_format: FeedFormat = FeedFormat.CSV) -> list[RawRow]:
    return list(read_rows(io.BytesIO(data), feed_format))


def test_a_good_csv_gives_one_row_per_line_numbered_from_the_header() -> None:
    rows = rows_of((HEADER + ROW.format(n=1) + ROW.format(n=2)).encode())
    assert [(r.line, r.source_record_id, r.error) for r in rows] == [
        (2, "MCR-1", ""),
        (3, "MCR-2", ""),
    ]
    assert rows[0].values["family_name"] == "O'Neill"


def test_a_line_in_another_encoding_is_rejected_and_its_neighbours_are_not() -> None:
    latin1 = "MCR-2,Zoë,Brontë,2018-03-14,female\n".encode("latin-1")
    rows = rows_of(HEADER.encode() + ROW.format(n=1).encode() + latin1 + ROW.format(n=3).encode())
    assert [r.error != "" for r in rows] == [False, True, False]
    assert "not UTF-8" in rows[1].error and rows[1].line == 3
    assert rows[1].source_record_id == "MCR-2"


def test_a_byte_order_mark_is_not_part_of_the_first_field_name() -> None:
    rows = rows_of(b"\xef\xbb\xbf" + (HEADER + ROW.format(n=1)).encode())
    assert rows[0].error == "" and rows[0].source_record_id == "MCR-1"


def test_a_file_without_a_header_rejects_every_line_including_the_first() -> None:
    rows = rows_of((ROW.format(n=1) + ROW.format(n=2)).encode())
    assert [r.line for r in rows] == [1, 2]
    assert all("no header line" in r.error for r in rows)


def test_unknown_header_fields_reject_every_row_and_name_the_fields() -> None:
    header = HEADER.strip() + ",case_notes\n"
    rows = rows_of((header + ROW.strip().format(n=1) + ",Referred for neglect\n").encode())
    assert len(rows) == 1
    assert "case_notes" in rows[0].error and "no case information" in rows[0].error
    assert rows[0].values == {}


def test_a_truncated_last_line_is_reported_as_truncated() -> None:
    rows = rows_of((HEADER + ROW.format(n=1) + "MCR-2,Ben,O'Ne").encode())
    assert rows[0].error == ""
    assert rows[1].line == 3 and "truncated" in rows[1].error


def test_an_unterminated_quote_at_the_end_is_a_truncated_row_not_a_crash() -> None:
    rows = rows_of((HEADER + ROW.format(n=1) + 'MCR-2,"Ben').encode())
    assert rows[-1].line == 3 and rows[-1].error


def test_a_row_with_the_wrong_number_of_fields_is_rejected_with_the_counts() -> None:
    rows = rows_of((HEADER + "MCR-1,Amelia,O'Neill\n" + ROW.format(n=2)).encode())
    assert "3 fields where the header has 5" in rows[0].error
    assert rows[1].error == ""


def test_a_quoted_field_may_span_lines_and_the_next_row_keeps_its_line_number() -> None:
    data = HEADER + 'MCR-1,"Amelia\nRose",O\'Neill,2018-03-14,female\n' + ROW.format(n=2)
    rows = rows_of(data.encode())
    assert [(r.line, r.error) for r in rows] == [(2, ""), (4, "")]


def test_blank_lines_are_not_rows() -> None:
    rows = rows_of((HEADER + "\n" + ROW.format(n=1) + "\n\n").encode())
    assert [r.line for r in rows] == [3]


def test_an_overlong_line_is_rejected_without_being_held_in_memory() -> None:
    huge = b"MCR-9," + b"x" * (MAX_LINE_BYTES + 10) + b"\n"
    rows = rows_of(HEADER.encode() + huge + ROW.format(n=2).encode())
    assert "longer than" in rows[0].error
    assert rows[1].source_record_id == "MCR-2" and rows[1].error == ""


def test_json_lines_reject_unknown_keys_per_row_and_report_truncation() -> None:
    lines = [
        json.dumps({"source_record_id": "A1", "given_names": "Amelia"}),
        json.dumps({"source_record_id": "A2", "assessment_notes": "..."}),
        json.dumps({"source_record_id": "A3", "date_of_birth": 20180314}),
        "[1, 2]",
        '{"source_record_id": "A5", "given_na',
    ]
    rows = rows_of("\n".join(lines).encode(), FeedFormat.JSONL)
    assert rows[0].error == "" and rows[0].values["given_names"] == "Amelia"
    assert "assessment_notes" in rows[1].error and rows[1].source_record_id == "A2"
    assert "strings or null" in rows[2].error
    assert "JSON object" in rows[3].error
    assert "truncated" in rows[4].error and rows[4].line == 5


class _CountingReader(io.RawIOBase):
    """A generated CSV of `count` rows that is never materialised, counting bytes handed out."""

    def __init__(self, count: int) -> None:
        self._lines: Iterator[bytes] = iter(
            [HEADER.encode()] + [ROW.format(n=i).encode() for i in range(count)]
        )
        self._buffer = b""
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray) -> int:  # type: ignore[override]
        while len(self._buffer) < len(target):
            nxt = next(self._lines, None)
            if nxt is None:
                break
            self._buffer += nxt
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        self.served += size
        return size


def _peak_memory_reading(count: int) -> int:
    source = io.BufferedReader(_CountingReader(count))
    tracemalloc.start()
    rows = 0
    for row in read_rows(source, FeedFormat.CSV):
        assert row.error == ""
        rows += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rows == count
    return peak


def test_a_large_file_is_streamed_in_constant_memory() -> None:
    """Ten times the rows must not need ten times the memory (a 2 GB file is read the same way)."""
    small = _peak_memory_reading(2_000)
    large = _peak_memory_reading(20_000)
    assert large < small * 2 + 100_000


def test_rows_are_yielded_before_the_file_is_read_to_the_end(tmp_path: Path) -> None:
    reader = _CountingReader(50_000)
    rows = read_rows(io.BufferedReader(reader, buffer_size=8192), FeedFormat.CSV)
    next(rows)
    assert reader.served < 100_000  # the file is ~2 MB: only the first blocks have been read
