"""Housekeeping of imports, run by the sweeper (`manage.py sweep_outbox`):

- `fail_dead`: a running import whose worker was killed gives no sign of life (the
  pipeline stamps `heartbeat_at` after each chunk); after PORTAL_IMPORT_STALL_SECONDS it is
  marked failed, saying how far it got. The chunks it applied stay applied; uploading the
  file again is safe (rows already applied change nothing, opted-out numbers stay out).
- `purge_files`: the uploaded CSV of a finished import (done or failed) is deleted after
  PORTAL_IMPORT_FILE_RETENTION_DAYS; the job, its counts and its row errors stay.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from subscriptions.models import ImportJob, ImportStatus

logger = logging.getLogger("subscriptions.imports")


def fail_dead(now: datetime | None = None) -> int:
    """Mark running imports without a heartbeat for the stall time failed; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PORTAL_IMPORT_STALL_SECONDS)
    dead = ImportJob.objects.filter(status=ImportStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    failed = 0
    for job in dead.only("pk", "processed", "total"):
        failed += ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.FAILED,
            finished_at=now,
            failure=(
                f"The worker stopped (no sign of life for "
                f"{settings.PORTAL_IMPORT_STALL_SECONDS} s) after {job.processed} of "
                f"{job.total} rows; those stay applied. Upload the file again to import "
                "the rest (rows already applied change nothing)."
            ),
        )
        logger.warning("import %s: worker gone, marked failed", job.pk)
    return failed


def purge_files(now: datetime | None = None) -> int:
    """Delete uploaded files of imports finished more than the retention ago."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PORTAL_IMPORT_FILE_RETENTION_DAYS)
    old = (
        ImportJob.objects.filter(
            status__in=[ImportStatus.DONE, ImportStatus.FAILED], finished_at__lt=cutoff
        )
        .exclude(file="")
        .only("pk", "file")
    )
    purged = 0
    for job in old.iterator(chunk_size=200):
        job.file.storage.delete(job.file.name)
        ImportJob.objects.filter(pk=job.pk).update(file="")
        purged += 1
    return purged
