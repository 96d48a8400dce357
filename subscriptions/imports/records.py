"""Reading an import file as CSV records with bounded memory and per-record errors.

The file is read in physical lines of at most MAX_RECORD_BYTES (a longer line is skipped
to its newline in pieces of that size, so a 200 MB file without newlines costs 32 KB, not
200 MB). Physical lines are joined while a quoted field is open (CSV allows newlines in
quotes), up to MAX_RECORD_BYTES per record. Each record is decoded and parsed on its own:
bad UTF-8, a NUL byte, an unbalanced quote, a field over MAX_FIELD_SIZE characters, or
more fields than the header names make that record a `BadRecord` with its line number;
the records around it are read as usual.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

MAX_RECORD_BYTES = 32 * 1024
# A field longer than this is not part of a subscription row (consent wording included).
MAX_FIELD_SIZE = 10_000
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Record:
    line: int  # the file's line on which the record ends (header is 1)
    fields: list


@dataclass(frozen=True)
class BadRecord:
    line: int
    message: str
    fields: list  # what could be read of it, for the errors CSV (may be empty)


def _physical_lines(binary_file) -> Iterator[tuple[bytes, bool]]:
    """(line, too_long) per physical line; a too-long line is consumed, not kept."""
    first = True
    while True:
        piece = binary_file.readline(MAX_RECORD_BYTES + 1)
        if not piece:
            return
        if first and piece.startswith(BOM):
            piece = piece[len(BOM) :]
        first = False
        if len(piece) > MAX_RECORD_BYTES and not piece.endswith(b"\n"):
            while piece and not piece.endswith(b"\n"):
                piece = binary_file.readline(MAX_RECORD_BYTES)
            yield b"", True
            continue
        yield piece, False


def _parse(raw: bytes, line: int):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadRecord(line, f"not UTF-8 text (byte {exc.start + 1})", [])
    if "\x00" in text:
        return BadRecord(line, "contains a NUL byte", _fields_or_empty(text.replace("\x00", "")))
    plain = _plain(text)
    if plain is not None:
        fields = plain.split(",")
    else:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        except csv.Error as exc:
            return BadRecord(line, f"not a CSV row ({exc})", [])
        fields = rows[0] if rows else []
        if len(rows) > 1:
            return BadRecord(line, "not a CSV row (text after a closing quote)", fields)
    if fields and max(map(len, fields)) > MAX_FIELD_SIZE:
        return BadRecord(
            line, f"a field is longer than {MAX_FIELD_SIZE} characters", _short(fields)
        )
    return Record(line, fields)


def _plain(text: str) -> str | None:
    """The record without its line ending when nothing in it needs the csv module (no
    quote, no line break inside): its fields are then the text between the commas, as
    csv.reader reads them, at a fraction of the cost. None otherwise."""
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if '"' in text or "\r" in text or "\n" in text:
        return None
    return text


def _short(fields):
    return [value[:64] for value in fields]


def _fields_or_empty(text):
    try:
        return _short(next(csv.reader([text])))
    except (csv.Error, StopIteration):
        return []


def _raw_records(binary_file) -> Iterator[tuple[int, bytes | None]]:
    """(line, bytes) per record, in order (the header first); None for a record longer
    than MAX_RECORD_BYTES, which is consumed, not kept."""
    line = 0
    pending, too_long = b"", False
    for piece, long_line in _physical_lines(binary_file):
        line += 1
        too_long = too_long or long_line or len(pending) + len(piece) > MAX_RECORD_BYTES
        if not too_long:
            pending += piece
        if not long_line and not too_long and pending.count(b'"') % 2:
            continue  # a quoted field is still open: the record goes on
        if too_long:
            # Resynchronise at the end of this physical line.
            yield line, None
        elif pending.strip(b"\r\n"):
            yield line, pending
        pending, too_long = b"", False
    if pending:
        yield line, pending


def records(binary_file) -> Iterator[Record | BadRecord]:
    """Every record of the file, in order (the header first)."""
    for line, raw in _raw_records(binary_file):
        if raw is None:
            yield BadRecord(line, f"longer than {MAX_RECORD_BYTES} bytes", [])
        else:
            yield _parse(raw, line)


def count(binary_file) -> int:
    """How many records `records` reads from the file (the header included), found from
    their boundaries alone: a fraction of the cost of reading them."""
    return sum(1 for _ in _raw_records(binary_file))


def records_after(stream, width: int) -> Iterator[Record | BadRecord]:
    """The rest of `stream` (after its header), with records wider than `width` bad."""
    for record in stream:
        if isinstance(record, Record) and len(record.fields) > width:
            yield BadRecord(
                record.line,
                f"{len(record.fields)} fields, but the header names {width} columns",
                _short(record.fields),
            )
        else:
            yield record
