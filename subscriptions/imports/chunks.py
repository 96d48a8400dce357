"""A set-based import's file, read in chunks and split between its writers.

`ParsedAhead` reads and parses the next chunk in a thread while the writers write the
current one. A chunk holds CHUNK_SIZE rows per writer (imports/writers.py); `writer_of`
decides which writer applies a number's rows, the same in every process, so that a
resumed import routes each row as its first runner did. Rows are parsed by the per-row
path's `pipeline.parse_row` (the same rules and messages), with an E.164 fast path for
the well-formed numbers files are mostly made of and each distinct time of a chunk parsed
once.
"""

import queue
import re
import sys
import threading
import zlib
from dataclasses import dataclass

from subscriptions.common.phones import normalize
from subscriptions.imports import pipeline, records
from subscriptions.imports.pipeline import RowError
from subscriptions.models import ImportRowError

SWITCH_INTERVAL = 0.0005  # seconds; see ParsedAhead
# "+1" and ten digits, the first not 0 or 1: `normalize` answers with the text itself
# (tests/subscriptions/imports/test_setbased.py checks it), without phonenumbers' 30 us.
_NANP_E164 = re.compile(r"\+1[2-9]\d{9}")


TIMES_REMEMBERED = 10_000  # distinct occurred_at texts per chunk; the rest are parsed each time


class ChunkTimes:
    """`pipeline._parse_occurred_at`, remembering the times it accepted in this chunk.

    Exports repeat a handful of times (a list's sign-up date, an export's run time), and
    parsing and range-checking one costs more than the rest of the row. Only accepted
    times are remembered, and an accepted time stays acceptable: its floor is fixed and
    its ceiling (now plus the clock skew) only moves later. A refused one is parsed again
    each time, so its message is the per-row path's."""

    def __init__(self):
        self._accepted = {}

    def __call__(self, text):
        value = self._accepted.get(text)
        if value is None:
            value = pipeline._parse_occurred_at(text)
            if value is not None and len(self._accepted) < TIMES_REMEMBERED:
                self._accepted[text] = value
        return value


def fast_normalize(raw) -> str:
    """`phones.normalize`, with a fast path for the numbers files are mostly made of."""
    if type(raw) is str and _NANP_E164.fullmatch(raw):
        return raw
    return normalize(raw)


@dataclass
class Chunk:
    """One chunk of the file, parsed and split between the writers."""

    end: int  # data rows of the file up to the end of this chunk
    consumed: int  # data rows read for it (0: the file is done)
    staged: list[list[str]]  # per writer: lines of COPY text for the staging table
    errors: list[list[ImportRowError]]  # per writer: rejected rows
    rows: list[int]  # per writer: rows of the file it applies (staged and rejected)


# COPY's text format: a tab between fields, a newline after the row, and these four
# written as escapes (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format").
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def copy_text(text: str) -> str:
    """`text` as a field of COPY's text format. Formatting the staging rows here, in the
    parsing thread, instead of by psycopg's `write_row` in the writer's: that took about
    2.5 s of a million-row import's Python time, holding the interpreter the writers wait
    for. NUL is refused before this (PostgreSQL text cannot hold it)."""
    return text.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def skip(reader, rows):
    try:
        for _ in range(rows):
            next(reader)
    except StopIteration:
        pass


def writer_of(phone: str, writers: int) -> int:
    """Which writer applies a number's rows: a stable hash (not Python's salted `hash`), so
    that a resumed import in another process routes every row as the first one did."""
    return zlib.crc32(phone.encode()) % writers if writers > 1 else 0


def parse_chunk(state, reader, header, start) -> Chunk:
    """Parse the next chunk_size rows per writer, split between the writers; rows a writer
    committed before a resume are left out."""
    writers = len(state.parts)
    staged = [[] for _ in range(writers)]
    errors = [[] for _ in range(writers)]
    rows = [0] * writers
    keywords, job, default_at, done = state.keywords, state.job, state.default_at, state.resumed_at
    consumed, limit = 0, state.chunk_size * writers
    times = ChunkTimes()
    stamps = {}  # occurred_at -> its text, for the staging table
    for record in reader:
        position = start + consumed
        consumed += 1
        line = record.line
        values = dict(zip(header, record.fields, strict=False))
        if isinstance(record, records.BadRecord):
            error = f"line {record.line} is {record.message}"
        else:
            try:
                row = pipeline.parse_row(values, line, keywords, fast_normalize, times)
                if "\x00" in row.consent_text:
                    raise RowError("consent_text contains a NUL byte")
            except RowError as exc:
                error = str(exc)
            else:
                writer = writer_of(row.phone, writers)
                if position >= done[writer]:
                    keyword = row.keyword
                    at = row.occurred_at or default_at
                    stamp = stamps.get(at) or stamps.setdefault(at, at.isoformat())
                    staged[writer].append(
                        f"{line}\t{row.phone}\t{keyword.pk}\t{keyword.short_code_id}\t"
                        f"{'t' if row.subscribe else 'f'}\t{stamp}\t"
                        f"{copy_text(row.consent_text)}\n"
                    )
                    rows[writer] += 1
                if consumed >= limit:
                    break
                continue
        writer = position % writers
        if position >= done[writer]:
            errors[writer].append(pipeline._row_error(job, line, values, error))
            rows[writer] += 1
        if consumed >= limit:
            break
    return Chunk(start + consumed, consumed, staged, errors, rows)


class ParsedAhead:
    """The file's chunks parsed one ahead, in a thread: while the database decides and
    writes chunk N (the main thread waits on it, the GIL released), chunk N+1 is read and
    parsed. At most three chunks are in memory (the one being written, one parsed and
    waiting, one being parsed): bounded, whatever the file's size. Parsing makes no query
    (the keywords are preloaded); an error in it is raised by `next` in the main thread."""

    def __init__(self, state, reader, header, start):
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._produce,
            args=(state, reader, header, start),
            name="import-parse",
            daemon=True,
        )

    def __enter__(self):
        # The main thread makes some thirty statements a chunk; each time one returns it
        # must take the GIL back from the parsing thread, which by default gives it up
        # only every 5 ms. A shorter switch interval while both run keeps those waits
        # short (measured: about 1 s a chunk of 50,000 rows otherwise).
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._interval)

    def next(self) -> Chunk:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def _produce(self, state, reader, header, start):
        try:
            while not self._stop.is_set():
                parsed = parse_chunk(state, reader, header, start)
                put(self._queue, parsed, self._stop)
                if not parsed.consumed:
                    return
                start = parsed.end
        except BaseException as exc:  # handed to the main thread, raised there
            put(self._queue, exc, self._stop)


def put(into: queue.Queue, item, stop: threading.Event) -> None:
    """Put `item`, waiting for room unless `stop` is set."""
    while not stop.is_set():
        try:
            into.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def get(source: queue.Queue, stop: threading.Event):
    """The next item, or None once `stop` is set."""
    while not stop.is_set():
        try:
            return source.get(timeout=0.1)
        except queue.Empty:
            continue
    return None
