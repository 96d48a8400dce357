"""Shared helpers for the import tests: write a CSV, run it as a job."""

import io

from django.db import connection
from django.db.models import ForeignKey

from subscriptions.imports import pipeline, references, setbased
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


def dangling_keys() -> dict[str, int]:
    """Every foreign key of the tables an import writes, counted where its parent row is
    missing: what the set-based path's skipped row checks would have refused. Tests roll
    their transaction back, so a deferred check never runs there; this reads it directly."""
    found = {}
    with connection.cursor() as cur:
        for model in references.WRITTEN:
            for field in model._meta.concrete_fields:
                if not isinstance(field, ForeignKey):
                    continue
                parent = field.related_model._meta
                cur.execute(
                    f"SELECT count(*) FROM {model._meta.db_table} c WHERE c.{field.column}"
                    f" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent.db_table} p"
                    f" WHERE p.{field.target_field.column} = c.{field.column})"
                )
                if missing := cur.fetchone()[0]:
                    found[f"{model._meta.db_table}.{field.column}"] = missing
    return found
