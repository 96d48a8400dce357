"""Set-based imports on PostgreSQL: the same rules as the per-row path, at bulk speed.

`run` is the import entry point of the admin, the API and `manage.py import_subscriptions`.
On PostgreSQL it streams the file through the row parsing of `imports.pipeline`
(imports/chunks.py: read and parsed one chunk ahead, in a thread), and its writers
(imports/writers.py, PORTAL_IMPORT_WRITERS, each its own share of the numbers and its own
connection) COPY their share of each chunk into a staging table and decide and write it
in a handful of statements (imports/setbased_sql.py): contacts, one walk over the rows in
file order, subscriptions, cleared stops, history, outbox rows and their delivery tasks.
On SQLite (the embedded default) it runs `pipeline.run`, the per-row batch form of the
services.

Each writer's share of a chunk is one transaction that also advances that writer's cursor
on the job (`ImportJob.part_cursors`, rows of the file it has committed; `cursor` is their
minimum), checked against the value this runner last saw: a killed import resumed with
`run(..., resume=True)` skips the rows each writer committed and applies every other row
once, and two runners of one job cannot both apply a chunk (ImportConflict).

The signal contract: each writer's applied events are announced once per chunk with
`subscription_changed(events=<QuerySet of those events, in history order>,
source="import", outbox_written=True)`. The queryset is read only by receivers that read
it; the provider-sync receiver skips such a send, because the outbox rows are already
written set-wise here.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.tasks.exceptions import InvalidTask
from django.utils import timezone
from django_tasks_db import DatabaseBackend

from subscriptions.common.queueing import QUEUE_BULK
from subscriptions.delivery import tasks as delivery_tasks
from subscriptions.imports import pipeline, references
from subscriptions.imports.chunks import ParsedAhead, skip
from subscriptions.imports.pipeline import ImportFileError, Progress
from subscriptions.imports.writers import (
    CHUNK_SIZE,
    ImportConflict,
    RunState,
    set_up_connection,
    write_here,
    write_in_threads,
)
from subscriptions.models import ImportJob, ImportStatus

__all__ = ["CHUNK_SIZE", "FK_MODES", "ImportConflict", "fk_mode", "run", "run_stored"]

logger = logging.getLogger("subscriptions.imports")


def uses_setbased() -> bool:
    return connection.vendor == "postgresql"


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
            skip(reader, start)
            with ParsedAhead(state, reader, header, start) as parsed:
                if len(state.parts) > 1 and not connection.in_atomic_block:
                    write_in_threads(state, parsed)
                else:
                    write_here(state, parsed)
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
    set_up_connection()
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
    return RunState(
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
