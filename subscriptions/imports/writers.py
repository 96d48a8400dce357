"""The writers of a set-based import: each applies its share of every chunk of the file.

A writer's share of a chunk (the rows of its numbers, imports/chunks.py `writer_of`) is
staged, decided and written in one transaction (`write_chunk`, the statements of
imports/setbased_sql.py), which also moves the writer's cursor on the job
(`ImportJob.part_cursors`) from the value this runner last saw to the chunk's end: a
runner that finds the cursor moved (another runner took the job over) rolls the chunk
back with ImportConflict. The writers' numbers are disjoint, so they take no row lock
the other waits for, and each number's rows are applied in file order.

With several writers (PORTAL_IMPORT_WRITERS) each has its own thread and database
connection (`write_in_threads`); one writer, or an import inside a transaction that other
connections cannot see into, writes on the caller's connection (`write_here`).
"""

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django_tasks_db.models import get_date_max

from portal.observability import current_request_id
from subscriptions.common.errors import PortalError
from subscriptions.common.queueing import traced_enqueue
from subscriptions.consent.signals import subscription_changed
from subscriptions.delivery import tasks as delivery_tasks
from subscriptions.delivery.plan import GROUP_SIZE
from subscriptions.imports import pipeline, references
from subscriptions.imports import setbased_sql as sql
from subscriptions.imports.chunks import Chunk, ParsedAhead, get, put
from subscriptions.imports.pipeline import Progress
from subscriptions.models import ImportJob, ImportRowError, Outcome, Source, SubscriptionEvent

logger = logging.getLogger("subscriptions.imports")

CHUNK_SIZE = 25_000  # rows per writer and transaction


class ImportConflict(PortalError, RuntimeError):
    """Another runner committed a chunk of this job since this one read its cursor."""


@dataclass
class RunState:
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


def set_up_connection():
    """The temporary tables of this thread's connection (each writer has its own)."""
    with connection.cursor() as cur:
        for statement in sql.SETUP + sql.RESET_DRY:
            cur.execute(statement)


def write_here(state, parsed: ParsedAhead) -> None:
    """Every writer's share of each chunk in turn, on this thread's connection (one writer,
    or an import run inside a transaction, which other connections could not see into)."""
    while (chunk := _timed_next(state, parsed)).consumed:
        for writer in range(len(state.parts)):
            _timed_write(state, writer, chunk)


def write_in_threads(state, parsed: ParsedAhead) -> None:
    """One thread and connection per writer, each applying its share of every chunk in
    file order. The numbers of two writers are disjoint (writer_of), so they take no lock
    the other waits for, and each number's rows stay in file order. A failure in any of
    them stops the others after their current chunk and is raised here."""
    stop = threading.Event()
    failures: list[BaseException] = []
    inboxes = [queue.Queue(maxsize=1) for _ in state.parts]

    def write(writer):
        try:
            set_up_connection()
            while (chunk := get(inboxes[writer], stop)) is not None and chunk.consumed:
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
                put(inbox, chunk, stop)
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


def _timed_next(state, parsed: ParsedAhead) -> Chunk:
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


def _timed_write(state, writer, chunk: Chunk) -> None:
    started = time.perf_counter()
    if write_chunk(state, writer, chunk):
        logger.info(
            "import %s: writer %d: %d rows in %.2f s",
            state.job.pk,
            writer,
            chunk.rows[writer],
            time.perf_counter() - started,
        )


def write_chunk(state, writer: int, chunk: Chunk) -> bool:
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
                copy.write("".join(staged))  # lines in COPY's text format (chunks.py)
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
