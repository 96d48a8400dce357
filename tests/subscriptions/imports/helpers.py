"""Shared helpers for the import tests: write a CSV, run it as a job."""

import io

from subscriptions.imports import pipeline, setbased
from subscriptions.models import ImportJob

HEADER = "phone,short_code,keyword,status,occurred_at,consent_text\n"


def csv_bytes(*rows, header=HEADER):
    return (header + "".join(line + "\n" for line in rows)).encode()


def run_csv(data: bytes, *, dry_run=False, name="members.csv", user=None, per_row=False):
    """Run `data` as an import job: the set-based path on PostgreSQL, the per-row path on
    SQLite (selected by vendor), or the per-row path everywhere with per_row (tests of that
    path's own chunking)."""
    job = ImportJob.objects.create(file_name=name, dry_run=dry_run, created_by=user)
    run = pipeline.run if per_row else setbased.run
    run(job, lambda: io.BytesIO(data))
    job.refresh_from_db()
    return job
