"""manage.py import_subscriptions FILE.csv [--dry-run] [--resume JOB]: the CSV import with a
progress bar (tqdm: rows, rate, ETA)."""

import os

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from subscriptions.imports import pipeline, setbased
from subscriptions.models import ImportJob

BAR_FORMAT = "{l_bar}{bar:40}| {n_fmt}/{total_fmt} rows [{elapsed}<{remaining}, {rate_fmt}]"


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
        parser.add_argument(
            "--resume",
            type=int,
            metavar="JOB",
            help="Go on with import JOB of this file after its last committed chunk (its "
            "runner died or it failed; PostgreSQL).",
        )
        parser.add_argument(
            "--chunk-size", type=int, help="Rows per transaction (set-based imports)."
        )

    def handle(self, *args, file, dry_run, resume, chunk_size, **options):
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        if resume:
            job = ImportJob.objects.filter(pk=resume).first()
            if job is None:
                raise CommandError(f"No import {resume}.")
            dry_run = job.dry_run
        else:
            job = ImportJob.objects.create(file_name=os.path.basename(file)[:255], dry_run=dry_run)
        bar = tqdm(
            file=getattr(self.stdout, "_out", self.stdout),  # tqdm writes "\r" itself
            unit=" rows",
            unit_scale=False,
            bar_format=BAR_FORMAT,
            dynamic_ncols=False,
            ncols=100,
            mininterval=0.5,
        )

        def show(progress):
            bar.total = progress.total
            bar.update(progress.processed - bar.n)

        try:
            # run() opens (and closes) the file itself, twice: hence an opener.
            result = setbased.run(
                job,
                lambda: open(file, "rb"),  # noqa: SIM115
                on_progress=show,
                resume=bool(resume),
                chunk_size=chunk_size,
            )
        except pipeline.ImportFileError as exc:
            raise CommandError(f"{file}: {exc}") from exc
        finally:
            bar.close()
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
