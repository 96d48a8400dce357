"""Shared helpers for the import tests: write a CSV, run it as a job."""

import io

from subscriptions.imports import setbased
from subscriptions.models import ImportJob

HEADER = "phone,short_code,keyword,status,occurred_at,consent_text\n"


def csv_bytes(*rows, header=HEADER):
    return (header + "".join(line + "\n" for line in rows)).encode()


def run_csv(data: bytes, *, dry_run=False, name="members.csv", user=None):
    job = ImportJob.objects.create(file_name=name, dry_run=dry_run, created_by=user)
    # The set-based path on PostgreSQL, the per-row path on SQLite (selected by vendor).
    setbased.run(job, lambda: io.BytesIO(data))
    job.refresh_from_db()
    return job
