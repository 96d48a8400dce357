"""manage.py import_subscriptions FILE.csv [--dry-run]: the CSV import with a progress bar."""

import os
import time

from django.core.management.base import BaseCommand, CommandError

from subscriptions.imports import pipeline
from subscriptions.models import ImportJob

BAR_WIDTH = 40


def progress_line(progress, started):
    done = progress.processed / progress.total if progress.total else 1
    filled = int(BAR_WIDTH * done)
    elapsed = max(time.monotonic() - started, 1e-6)
    return (
        f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:4.0%} "
        f"{progress.processed}/{progress.total} rows, {progress.processed / elapsed:,.0f}/s"
    )


class Command(BaseCommand):
    help = (
        "Import subscriptions from a CSV file (phone, short_code, keyword, status[, "
        "occurred_at, consent_text])."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would change without writing anything.",
        )

    def handle(self, *args, file, dry_run, **options):
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        job = ImportJob.objects.create(file_name=os.path.basename(file)[:255], dry_run=dry_run)
        started = time.monotonic()

        def show(progress):
            self.stdout.write(progress_line(progress, started), ending="")
            self.stdout.flush()

        try:
            # run() opens (and closes) the file itself, twice: hence an opener.
            result = pipeline.run(job, lambda: open(file, "rb"), on_progress=show)  # noqa: SIM115
        except pipeline.ImportFileError as exc:
            raise CommandError(f"{file}: {exc}") from exc
        self.stdout.write("")
        verb = "would be applied" if dry_run else "applied"
        self.stdout.write(
            self.style.SUCCESS(
                f"Import {job.pk}{' (dry run)' if dry_run else ''}: {result.total} rows, "
                f"{result.applied} {verb}, {result.refused} refused, {result.unchanged} unchanged, "
                f"{result.errors} rejected."
            )
        )
        if result.errors:
            self.stdout.write(
                f"Rejected rows: GET /api/v1/imports/{job.pk}/errors.csv or the "
                "import's admin page."
            )
