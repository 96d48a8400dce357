"""CSV import engine (admin upload, API `imports/`, `manage.py import_subscriptions`).

The file is streamed: rows are parsed and handed to `batch.apply_batch` one chunk at a
time, so memory stays bounded whatever the file size. Rows the rules never see (bad phone,
unknown code or keyword, bad status or date) are stored as ImportRowError and the good rows
around them are still applied. Columns: phone, short_code, keyword, status (Active /
Subscribe / Unsubscribe, any case) and optionally occurred_at and consent_text.
"""

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import DatabaseError, transaction
from django.utils import timezone

from subscriptions.common import times
from subscriptions.common.errors import PortalError
from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.common.queueing import traced_enqueue
from subscriptions.consent import batch, services
from subscriptions.imports import records
from subscriptions.imports.tasks import run_import
from subscriptions.models import (
    ImportJob,
    ImportRowError,
    ImportStatus,
    Keyword,
    KeywordKind,
    Outcome,
    ShortCode,
    Source,
)

REQUIRED_COLUMNS = ("phone", "short_code", "keyword", "status")
STATUS_WORDS = {"active": True, "subscribe": True, "unsubscribe": False}
CHUNK_SIZE = 1000
MAX_FIELD_SIZE = records.MAX_FIELD_SIZE
logger = logging.getLogger("subscriptions.imports")


class ImportFileError(PortalError, ValueError):
    """The file as a whole cannot be imported (not CSV, missing columns)."""


class RowError(PortalError, ValueError):
    """One row cannot be imported; the message is what the errors CSV shows."""


@dataclass
class Progress:
    total: int
    processed: int = 0
    applied: int = 0
    refused: int = 0
    unchanged: int = 0
    errors: int = 0


def _header(stream):
    """The header's column names, from the first record of `stream` (records.records)."""
    first = next(stream, None)
    if first is None:
        raise ImportFileError("The file is empty.")
    if isinstance(first, records.BadRecord):
        raise ImportFileError(f"The header (line {first.line}) is {first.message}.")
    header = [name.strip().lower() for name in first.fields]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFileError(
            f"Missing column(s): {', '.join(missing)}. The header must name "
            f"{', '.join(REQUIRED_COLUMNS)}[, occurred_at, consent_text]."
        )
    return header


def _body(binary_file):
    """(header, the data records after it)."""
    stream = records.records(binary_file)
    header = _header(stream)
    return header, records.records_after(stream, len(header))


def count_rows(binary_file) -> int:
    """Data rows in the file (quoted newlines counted right), for the progress bar. The
    header is read (and refused, if it is not one) when the rows are."""
    return max(records.count(binary_file) - 1, 0)


class _Keywords:
    """Program keywords by (code, WORD), read once each; the answer for an unknown pair is
    remembered too, so a file full of one typo costs one query."""

    def __init__(self):
        self._known = {}
        self._complete = False  # every keyword and code is in _known: never ask

    @classmethod
    def preloaded(cls) -> "_Keywords":
        """Every keyword and short code read at once (configuration: a few hundred rows),
        so that rows can be parsed where no query may be made (the set-based import parses
        the next chunk in a thread while the database writes this one)."""
        keywords = cls()
        for keyword in Keyword.objects.select_related("short_code"):
            keywords._known[(keyword.short_code.code, keyword.word)] = keyword
        for code in ShortCode.objects.values_list("code", flat=True):
            keywords._known[(code, None)] = True
        keywords._complete = True
        return keywords

    def get(self, code, word):
        key = (code, word)
        if key not in self._known and self._complete:
            self._known[key] = None
        if key not in self._known:
            self._known[key] = (
                Keyword.objects.select_related("short_code")
                .filter(short_code__code=code, word=word)
                .first()
            )
        keyword = self._known[key]
        if keyword is None:
            raise RowError(
                f"unknown keyword {word} on short code {code}"
                if self._code_exists(code)
                else f"unknown short code {code}"
            )
        if keyword.kind != KeywordKind.PROGRAM:
            raise RowError(f"{word} is a {keyword.kind} keyword, not a program")
        return keyword

    def _code_exists(self, code):
        key = (code, None)
        if key not in self._known and self._complete:
            return False
        if key not in self._known:
            self._known[key] = ShortCode.objects.filter(code=code).exists()
        return self._known[key]


def _parse_occurred_at(text):
    if not text:
        return None
    try:
        return times.parse(text)
    except times.BadTime as exc:
        raise RowError(f"occurred_at {exc}".rstrip(".")) from None


def parse_row(
    values: dict,
    line: int,
    keywords: _Keywords,
    normalize_phone: Callable = normalize,
    parse_time: Callable = _parse_occurred_at,
) -> batch.BatchRow:
    """One CSV row as a BatchRow, or RowError saying what is wrong with it. A caller may
    pass a faster phone normaliser and time parser that give the same answers
    (imports/chunks.py)."""
    status = values.get("status", "").strip().lower()
    if status not in STATUS_WORDS:
        raise RowError(
            f"status {values.get('status', '')!r} is not Active, Subscribe or Unsubscribe"
        )
    try:
        phone = normalize_phone(values.get("phone", ""))
    except InvalidPhone as exc:
        raise RowError(str(exc)) from exc
    code = values.get("short_code", "").strip()
    word = values.get("keyword", "").strip().upper()
    if not code or not word:
        raise RowError("short_code and keyword are required")
    return batch.BatchRow(
        phone=phone,
        keyword=keywords.get(code, word),
        subscribe=STATUS_WORDS[status],
        occurred_at=parse_time(values.get("occurred_at", "").strip()),
        consent_text=values.get("consent_text", "").strip(),
        line=line,
    )


def _clean(text):
    """Text safe to store anywhere (PostgreSQL refuses NUL in text columns)."""
    return text.replace("\x00", "\\x00")


def _row_error(job, line, values, message):
    return ImportRowError(
        job=job,
        line=line,
        phone=_clean(values.get("phone", ""))[:64],
        short_code=_clean(values.get("short_code", ""))[:64],
        keyword=_clean(values.get("keyword", ""))[:64],
        status=_clean(values.get("status", ""))[:64],
        message=_clean(message)[:255],
    )


def _chunks(body, header, job, keywords):
    """Yield (batch rows, row errors) per CHUNK_SIZE records of the file. A record that
    cannot be read is a row error like any other: its neighbours are still applied."""
    rows, errors = [], []
    for record in body:
        if isinstance(record, records.BadRecord):
            values = dict(zip(header, record.fields, strict=False))
            errors.append(
                _row_error(job, record.line, values, f"line {record.line} is {record.message}")
            )
        else:
            values = dict(zip(header, record.fields, strict=False))
            try:
                rows.append(parse_row(values, record.line, keywords))
            except RowError as exc:
                errors.append(_row_error(job, record.line, values, str(exc)))
        if len(rows) + len(errors) >= CHUNK_SIZE:
            yield rows, errors
            rows, errors = [], []
    if rows or errors:
        yield rows, errors


def _context(job):
    return services.Context(
        source=Source.IMPORT,
        actor=job.created_by,
        actor_label=job.file_name[:150],
        detail={"import_job": job.pk, "file": job.file_name},
    )


def _record_chunk(job, progress, result, errors):
    """Count one applied chunk and store its row errors (with dry runs too: they are the
    answer a dry run is for)."""
    progress.processed += len(result.events) + len(errors)
    progress.applied += result.count(Outcome.APPLIED)
    progress.refused += result.count(Outcome.REFUSED)
    progress.unchanged += result.count(Outcome.NO_CHANGE) + result.count(Outcome.STALE)
    progress.errors += len(errors)
    ImportRowError.objects.bulk_create(errors)
    ImportJob.objects.filter(pk=job.pk).update(
        processed=progress.processed,
        applied=progress.applied,
        refused=progress.refused,
        unchanged=progress.unchanged,
        errors=progress.errors,
        heartbeat_at=timezone.now(),
    )


def run(job: ImportJob, open_file: Callable, on_progress: Callable | None = None) -> Progress:
    """Import the file that `open_file()` opens (binary mode) into `job`, chunk by chunk.

    The file is read twice (once to count rows for the progress bar), which is why it is
    given as an opener. A file-level problem marks the job failed; row problems do not.
    """
    if not _start(job):
        raise ImportFileError(f"Import {job.pk} was already started.")
    try:
        with open_file() as counting:
            progress = Progress(total=count_rows(counting))
        ImportJob.objects.filter(pk=job.pk).update(
            total=progress.total, heartbeat_at=timezone.now()
        )
        ctx = _context(job)
        keywords = _Keywords()
        dry_run = job.dry_run and batch.DryRun()
        with open_file() as source:
            header, body = _body(source)
            for rows, errors in _chunks(body, header, job, keywords):
                result = _apply_isolated(rows, errors, ctx, dry_run, job)
                _record_chunk(job, progress, result, errors)
                if on_progress:
                    on_progress(progress)
    except ImportFileError as exc:
        _finish(job, ImportStatus.FAILED, failure=str(exc))
        raise
    except Exception as exc:
        # Chunks already applied stay applied (each is its own transaction); the job must
        # not look "running" forever.
        _finish(job, ImportStatus.FAILED, failure=f"Stopped by an internal error: {exc!r}")
        raise
    _finish(job, ImportStatus.DONE)
    return progress


def _apply_isolated(rows, errors, ctx, dry_run, job):
    """Apply a chunk in one batch; if the database refuses it, apply its rows one by one so
    that the row it refuses becomes a row error and its neighbours still apply."""
    try:
        return batch.apply_batch(rows, ctx, dry_run=dry_run)
    except DatabaseError:
        logger.warning("import %s: a chunk was refused; applying it row by row", job.pk)
    events = []
    for row in rows:
        try:
            events += batch.apply_batch([row], ctx, dry_run=dry_run).events
        except DatabaseError as exc:
            errors.append(
                ImportRowError(
                    job=job,
                    line=row.line,
                    phone=row.phone,
                    message=_clean(f"could not be stored: {exc}")[:255],
                )
            )
    return batch.BatchResult(events=events)


def _start(job):
    """Claim a queued job; False when another worker (or a re-delivered task) has it."""
    job.status, job.started_at = ImportStatus.RUNNING, timezone.now()
    return bool(
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
            status=job.status, started_at=job.started_at, heartbeat_at=job.started_at
        )
    )


def _finish(job, status, failure=""):
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, failure=failure, finished_at=timezone.now()
    )
    job.refresh_from_db()


def submit(uploaded_file, *, dry_run=False, user=None) -> ImportJob:
    """Store an uploaded CSV as a queued job; the worker runs it after commit."""
    job = ImportJob.objects.create(
        file=uploaded_file, file_name=uploaded_file.name[:255], dry_run=dry_run, created_by=user
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id):
    traced_enqueue(run_import, job_id)


def run_stored(job_id: int) -> None:
    """Run a queued job whose file was uploaded (the worker's entry point)."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.status != ImportStatus.QUEUED:
        return  # already taken by another worker, or finished
    # A file-level failure is recorded on the job; nothing more to do in the worker.
    with contextlib.suppress(ImportFileError):
        run(job, lambda: job.file.storage.open(job.file.name, "rb"))


def errors_csv_rows(job: ImportJob) -> Iterator[list]:
    """The rejected rows as CSV rows (header first), streamed from the database."""
    yield ["line", "phone", "short_code", "keyword", "status", "error"]
    for e in job.row_errors.order_by("line").iterator(chunk_size=2000):
        yield [e.line, e.phone, e.short_code, e.keyword, e.status, e.message]
