"""Set-based imports on PostgreSQL: the same rules as the per-row path, at bulk speed.

`run` is the import entry point of the admin, the API and `manage.py import_subscriptions`.
On PostgreSQL it streams the file through the row parsing of `imports.pipeline` (with an
E.164 fast path for well-formed numbers), COPYs each chunk of CHUNK_SIZE rows into a
staging table and decides and writes the chunk in a handful of statements
(`imports.setbased_sql`): contacts, one walk over the rows in file order, subscriptions,
cleared stops, history, outbox rows and their delivery tasks. On SQLite (the embedded
default) it runs `pipeline.run`, the per-row batch form of the services.

Each chunk is one transaction that also advances `ImportJob.cursor` (rows of the file
committed), checked and locked at the chunk's start: a killed import resumed with
`run(..., resume=True)` skips the committed rows and applies every other row once, and two
runners of one job cannot both apply a chunk.

The signal contract: the chunk's applied events are announced once per chunk with
`subscription_changed(events=<QuerySet of the chunk's applied events, in history order>,
source="import", outbox_written=True)`. The queryset is read only by receivers that read
it; the provider-sync receiver skips such a send, because the outbox rows are already
written set-wise here.
"""

import json
import logging
import queue
import re
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.tasks.exceptions import InvalidTask
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import get_date_max

from portal.observability import current_request_id
from subscriptions.common.errors import PortalError
from subscriptions.common.phones import normalize
from subscriptions.common.queueing import QUEUE_BULK, traced_enqueue
from subscriptions.consent.signals import subscription_changed
from subscriptions.delivery import tasks as delivery_tasks
from subscriptions.delivery.plan import GROUP_SIZE
from subscriptions.imports import pipeline, records, references
from subscriptions.imports import setbased_sql as sql
from subscriptions.imports.pipeline import ImportFileError, Progress, RowError
from subscriptions.models import (
    ImportJob,
    ImportRowError,
    ImportStatus,
    Outcome,
    Source,
    SubscriptionEvent,
)

logger = logging.getLogger("subscriptions.imports")

CHUNK_SIZE = 25_000  # rows per writer and transaction
SWITCH_INTERVAL = 0.0005  # seconds; see _ParsedAhead
# "+1" and ten digits, the first not 0 or 1: `normalize` answers with the text itself
# (tests/subscriptions/imports/test_setbased.py checks it), without phonenumbers' 30 us.
_NANP_E164 = re.compile(r"\+1[2-9]\d{9}")


class ImportConflict(PortalError, RuntimeError):
    """Another runner committed a chunk of this job since this one read its cursor."""


def fast_normalize(raw) -> str:
    """`phones.normalize`, with a fast path for the numbers files are mostly made of."""
    if type(raw) is str and _NANP_E164.fullmatch(raw):
        return raw
    return normalize(raw)


def uses_setbased() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class _Run:
    job: ImportJob
    progress: Progress
    keywords: pipeline._Keywords
    default_at: object
    label: str
    chunk_size: int
    with_tasks: bool
    queue: str
    fk_mode: str = "immediate"
    # Data rows of the file committed per writer (job.part_cursors), as they were when this
    # runner started (which rows to skip) and as they are now (what the next commit checks).
    resumed_at: list[int] = field(default_factory=lambda: [0])
    parts: list[int] = field(default_factory=lambda: [0])
    on_progress: Callable | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Parsed:
    """One chunk of the file, parsed and split between the writers."""

    end: int  # data rows of the file up to the end of this chunk
    consumed: int  # data rows read for it (0: the file is done)
    staged: list[list[tuple]]  # per writer: rows for the staging table
    errors: list[list[ImportRowError]]  # per writer: rejected rows
    rows: list[int]  # per writer: rows of the file it applies (staged and rejected)


def run(
    job: ImportJob,
    open_file,
    on_progress=None,
    *,
    resume: bool = False,
    chunk_size: int | None = None,
) -> Progress:
    """Import the file `open_file()` opens (binary) into `job`; see the module docstring.

    resume=True takes over a job whose runner died (running, heartbeat older than
    PORTAL_IMPORT_LEASE_SECONDS) or failed, and goes on after its last committed chunk.
    """
    if not uses_setbased():
        if resume:
            raise ImportFileError("Resuming an import needs PostgreSQL.")
        return pipeline.run(job, open_file, on_progress)
    if not _claim(job, resume):
        raise ImportFileError(f"Import {job.pk} was already started.")
    try:
        with open_file() as counting:
            total = pipeline.count_rows(counting)
        ImportJob.objects.filter(pk=job.pk).update(total=total)
        state = _prepare(job, total, chunk_size or CHUNK_SIZE, on_progress)
        with open_file() as source:
            # The same record reader as the per-row path (imports/records.py): bounded
            # memory, and a record that cannot be read is a rejected row, not a failed file.
            header, reader = pipeline._body(source)
            start = min(state.parts)
            _skip(reader, start)
            with _ParsedAhead(state, reader, header, start) as parsed:
                if len(state.parts) > 1 and not connection.in_atomic_block:
                    _write_in_threads(state, parsed)
                else:
                    _write_here(state, parsed)
    except ImportConflict:
        raise  # the job is another runner's now: leave it to that runner
    except ImportFileError as exc:
        pipeline._finish(job, ImportStatus.FAILED, failure=str(exc))
        raise
    except Exception as exc:
        # Committed chunks stay committed (and counted in job.cursor): resume goes on.
        pipeline._finish(job, ImportStatus.FAILED, failure=f"Stopped by an internal error: {exc!r}")
        raise
    pipeline._finish(job, ImportStatus.DONE)
    return state.progress


def _claim(job, resume):
    now = timezone.now()
    jobs = ImportJob.objects.filter(pk=job.pk)
    if resume:
        lease = timedelta(seconds=getattr(settings, "PORTAL_IMPORT_LEASE_SECONDS", 120))
        dead = jobs.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=now - lease)
        claimed = (dead | jobs.filter(status=ImportStatus.FAILED)).update(
            status=ImportStatus.RUNNING, heartbeat_at=now, failure="", finished_at=None
        )
    else:
        claimed = jobs.filter(status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now
        )
    job.refresh_from_db()
    return bool(claimed)


def _writer_parts(job) -> list[int]:
    """The job's per-writer cursors; a new job gets PORTAL_IMPORT_WRITERS of them, kept
    for its resumes (a row must go to the writer that had it before)."""
    if not job.part_cursors:
        writers = max(1, int(getattr(settings, "PORTAL_IMPORT_WRITERS", 1)))
        # A job started before there were writers (or a single one) has its cursor only.
        job.part_cursors = [job.cursor] * (writers if not job.cursor else 1)
        ImportJob.objects.filter(pk=job.pk).update(part_cursors=job.part_cursors)
    return list(job.part_cursors)


def _prepare(job, total, chunk_size, on_progress=None):
    _set_up_connection()
    task = delivery_tasks.deliver_sync_group
    backend = task.get_backend()
    queue = QUEUE_BULK
    try:
        backend.validate_task(task.using(queue_name=QUEUE_BULK))
    except InvalidTask:
        logger.info(
            "the task backend has no %r queue: import deliveries go to %r",
            QUEUE_BULK,
            task.queue_name,
        )
        queue = task.queue_name
    label = job.file_name[:150]
    if not label and job.created_by is not None:
        label = job.created_by.get_username()[:150]
    parts = _writer_parts(job)
    return _Run(
        job=job,
        progress=Progress(
            total=total,
            processed=job.processed,
            applied=job.applied,
            refused=job.refused,
            unchanged=job.unchanged,
            errors=job.errors,
        ),
        keywords=pipeline._Keywords.preloaded(),
        # Rows without occurred_at occur when the import started, also after a resume.
        default_at=job.started_at,
        label=label,
        chunk_size=chunk_size,
        with_tasks=isinstance(backend, DatabaseBackend) and not job.dry_run,
        queue=queue,
        fk_mode=fk_mode(),
        resumed_at=parts,
        parts=list(parts),
        on_progress=on_progress,
    )


def _set_up_connection():
    """The temporary tables of this thread's connection (each writer has its own)."""
    with connection.cursor() as cur:
        for statement in sql.SETUP + sql.RESET_DRY:
            cur.execute(statement)


def _skip(reader, rows):
    try:
        for _ in range(rows):
            next(reader)
    except StopIteration:
        pass


def writer_of(phone: str, writers: int) -> int:
    """Which writer applies a number's rows: a stable hash (not Python's salted `hash`), so
    that a resumed import in another process routes every row as the first one did."""
    return zlib.crc32(phone.encode()) % writers if writers > 1 else 0


def _parse(state, reader, header, start) -> _Parsed:
    """Parse the next chunk_size rows per writer, split between the writers; rows a writer
    committed before a resume are left out."""
    writers = len(state.parts)
    staged = [[] for _ in range(writers)]
    errors = [[] for _ in range(writers)]
    rows = [0] * writers
    keywords, job, default_at, done = state.keywords, state.job, state.default_at, state.resumed_at
    consumed, limit = 0, state.chunk_size * writers
    for record in reader:
        position = start + consumed
        consumed += 1
        line = record.line
        values = dict(zip(header, record.fields, strict=False))
        if isinstance(record, records.BadRecord):
            error = f"line {record.line} is {record.message}"
        else:
            try:
                row = pipeline.parse_row(values, line, keywords, fast_normalize)
                if "\x00" in row.consent_text:
                    raise RowError("consent_text contains a NUL byte")
            except RowError as exc:
                error = str(exc)
            else:
                writer = writer_of(row.phone, writers)
                if position >= done[writer]:
                    keyword = row.keyword
                    staged[writer].append(
                        (
                            line,
                            row.phone,
                            keyword.pk,
                            keyword.short_code_id,
                            row.subscribe,
                            row.occurred_at or default_at,
                            row.consent_text,
                        )
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
    return _Parsed(start + consumed, consumed, staged, errors, rows)


class _ParsedAhead:
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

    def next(self) -> _Parsed:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def _produce(self, state, reader, header, start):
        try:
            while not self._stop.is_set():
                parsed = _parse(state, reader, header, start)
                _put(self._queue, parsed, self._stop)
                if not parsed.consumed:
                    return
                start = parsed.end
        except BaseException as exc:  # handed to the main thread, raised there
            _put(self._queue, exc, self._stop)


def _put(into: queue.Queue, item, stop: threading.Event) -> None:
    """Put `item`, waiting for room unless `stop` is set."""
    while not stop.is_set():
        try:
            into.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(source: queue.Queue, stop: threading.Event):
    """The next item, or None once `stop` is set."""
    while not stop.is_set():
        try:
            return source.get(timeout=0.1)
        except queue.Empty:
            continue
    return None


def _write_here(state, parsed: _ParsedAhead) -> None:
    """Every writer's share of each chunk in turn, on this thread's connection (one writer,
    or an import run inside a transaction, which other connections could not see into)."""
    while (chunk := _timed_next(state, parsed)).consumed:
        for writer in range(len(state.parts)):
            _timed_write(state, writer, chunk)


def _write_in_threads(state, parsed: _ParsedAhead) -> None:
    """One thread and connection per writer, each applying its share of every chunk in
    file order. The numbers of two writers are disjoint (writer_of), so they take no lock
    the other waits for, and each number's rows stay in file order. A failure in any of
    them stops the others after their current chunk and is raised here."""
    stop = threading.Event()
    failures: list[BaseException] = []
    inboxes = [queue.Queue(maxsize=1) for _ in state.parts]

    def write(writer):
        try:
            _set_up_connection()
            while (chunk := _get(inboxes[writer], stop)) is not None and chunk.consumed:
                _timed_write(state, writer, chunk)
        except BaseException as exc:
            failures.append(exc)
            stop.set()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=write, args=(n,), name=f"import-writer-{n}", daemon=True)
        for n in range(len(state.parts))
    ]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set():
            chunk = _timed_next(state, parsed)
            for inbox in inboxes:
                _put(inbox, chunk, stop)
            if not chunk.consumed:
                break
    except BaseException:
        stop.set()
        raise
    finally:
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]


def _timed_next(state, parsed: _ParsedAhead) -> _Parsed:
    started = time.perf_counter()
    chunk = parsed.next()
    if chunk.consumed:
        logger.info(
            "import %s: %d rows parsed; %.2f s waiting for the parse",
            state.job.pk,
            chunk.consumed,
            time.perf_counter() - started,
        )
    return chunk


def _timed_write(state, writer, chunk: _Parsed) -> None:
    started = time.perf_counter()
    if _write(state, writer, chunk):
        logger.info(
            "import %s: writer %d: %d rows in %.2f s",
            state.job.pk,
            writer,
            chunk.rows[writer],
            time.perf_counter() - started,
        )


def _write(state, writer: int, chunk: _Parsed) -> bool:
    """Stage, decide and write one writer's share of a chunk in one transaction, which also
    advances the writer's cursor; False when the writer had committed all of it before."""
    job, now = state.job, timezone.now()
    expected = state.parts[writer]
    if chunk.end <= expected:
        return False
    staged, errors = chunk.staged[writer], chunk.errors[writer]
    with transaction.atomic(), connection.cursor() as cur:
        for statement in sql.CLEAR:
            cur.execute(statement)
        if state.fk_mode != "deferred":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        counts = {}
        if staged:
            with cur.cursor.copy(sql.COPY_STAGE) as copy:
                for row in staged:
                    copy.write_row(row)
            counts = _decide_and_write(state, cur, now)
        ImportRowError.objects.bulk_create(errors)
        cur.execute(
            sql.ADVANCE,
            {
                "job": job.pk,
                "writer": writer,
                "expected": expected,
                "end": chunk.end,
                "now": now,
                "processed": chunk.rows[writer],
                "applied": counts.get(Outcome.APPLIED, 0),
                "refused": counts.get(Outcome.REFUSED, 0),
                "unchanged": counts.get(Outcome.NO_CHANGE, 0) + counts.get(Outcome.STALE, 0),
                "errors": len(errors),
            },
        )
        if cur.fetchone() is None:
            # The cursor moved since this runner read it: another runner took the job
            # over. Roll this chunk back; the rows are that runner's now.
            raise ImportConflict(f"import {job.pk} was taken over by another runner")
    with state.lock:
        state.parts[writer] = chunk.end
        job.cursor = min(state.parts)
        _count(state.progress, counts, chunk.rows[writer], len(errors))
        if state.on_progress:
            state.on_progress(state.progress)
    return True


def _decide_and_write(state, cur, now):
    dry = state.job.dry_run
    params = {"now": now}
    for statement in sql.DRY_CONTACTS if dry else sql.CONTACTS:
        cur.execute(statement, params)
    for statement in sql.SEQUENCE + sql.walk(dry):
        cur.execute(statement)
    if dry:
        for statement in sql.DRY_STATE:
            cur.execute(statement)
        cur.execute(sql.COUNT_DRY)
        return dict(cur.fetchall())
    setwise = state.fk_mode == "setwise"
    if setwise:
        references.skip_row_checks(cur)
    for statement in sql.WRITE_STATE:
        cur.execute(statement, params)
    task = delivery_tasks.deliver_sync_group
    backend = task.get_backend()
    cur.execute(
        sql.write_history(state.with_tasks),
        {
            **params,
            "actor": state.job.created_by_id,
            "label": state.label,
            "job": state.job.pk,
            "file": state.job.file_name,
            "request_id": current_request_id(),
            "priority": task.priority,
            "task_path": task.module_path,
            "group_size": GROUP_SIZE,
            "queue": state.queue,
            "backend": backend.alias,
            "run_after": get_date_max(),
        },
    )
    applied, counts, sync_ids = cur.fetchone()
    if setwise:
        references.restore_row_checks(cur)
        references.check_written(cur)
    if sync_ids:
        queued = task.using(queue_name=state.queue)
        groups = [sync_ids[i : i + GROUP_SIZE] for i in range(0, len(sync_ids), GROUP_SIZE)]
        transaction.on_commit(lambda: [traced_enqueue(queued, group) for group in groups])
    counts = json.loads(counts) if isinstance(counts, str) else counts
    if counts and counts.get(Outcome.APPLIED):
        _announce(state.job, applied, alone=len(state.parts) == 1)
    return counts or {}


def _announce(job, applied: list[int], alone: bool):
    """subscription_changed once for the chunk, with its applied events (lazily read).

    A lone writer's chunk is the import's applied events in the range of their ids. Beside
    other writers of the same import, which write their events at the same time so that
    the ids interleave, the events are named by their ids too."""
    events = SubscriptionEvent.objects.filter(
        pk__range=(applied[0], applied[-1]),
        source=Source.IMPORT,
        outcome=Outcome.APPLIED,
        detail__import_job=job.pk,
    ).order_by("pk")
    if not alone:
        events = events.filter(RawSQL(_any_of(applied), (), BooleanField()))
    subscription_changed.send(
        sender=SubscriptionEvent, events=events, source=Source.IMPORT, outbox_written=True
    )


_EVENT_ID = f'"{SubscriptionEvent._meta.db_table}"."{SubscriptionEvent._meta.pk.column}"'


def _any_of(ids: list[int]) -> str:
    """`id = ANY(<the ids>)` with the ids written into the statement: PostgreSQL hashes a
    constant array and probes it once per row. A bound array parameter is searched from the
    start for every row (measured: 19 s in all over a 1,000,000-row import, against 0.8 s
    for the range alone), and a join against `unnest(<parameter>)` is planned from the
    statistics of a history table the import has just filled, which can make it a nested
    loop over both (measured: 36 s for one chunk of 25,000 events)."""
    return f"{_EVENT_ID} = ANY('{{{','.join(str(int(n)) for n in ids)}}}'::bigint[])"


def _count(progress, counts, rows, errors):
    progress.processed += rows
    progress.applied += counts.get(Outcome.APPLIED, 0)
    progress.refused += counts.get(Outcome.REFUSED, 0)
    progress.unchanged += counts.get(Outcome.NO_CHANGE, 0) + counts.get(Outcome.STALE, 0)
    progress.errors += errors


# How the foreign keys of what a chunk writes are checked (docs/adr/0007-import-foreign-keys.md):
# "setwise" (one locking check per parent table after the chunk's statements, when the
# database role may switch the per-row triggers off; otherwise "immediate"), "immediate"
# (row by row, at the end of each statement) or "deferred" (Django's default, at commit).
FK_MODES = ("setwise", "immediate", "deferred")


def fk_mode() -> str:
    mode = getattr(settings, "PORTAL_IMPORT_FK_CHECKS", "setwise")
    if mode not in FK_MODES:
        raise ImportFileError(f"PORTAL_IMPORT_FK_CHECKS must be one of {', '.join(FK_MODES)}")
    if mode == "setwise" and not references.may_skip_row_checks():
        logger.info("this database role may not set session_replication_role: row checks")
        return "immediate"
    return mode


def run_stored(job_id: int) -> None:
    """Run (or, after a dead runner's lease, resume) a job whose file was uploaded."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return
    resume = job.status == ImportStatus.RUNNING
    try:
        run(job, lambda: job.file.storage.open(job.file.name, "rb"), resume=resume)
    except ImportFileError:
        return  # recorded on the job (or: it is still another runner's)
