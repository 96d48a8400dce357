"""A set-based import whose process is killed (SIGKILL) in the middle of a chunk resumes
from its last committed chunk and applies every row exactly once (PostgreSQL, real
processes)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db.models import Count

from subscriptions.imports import chunks
from subscriptions.models import (
    Contact,
    ImportJob,
    ImportStatus,
    ProviderSync,
    Status,
    Subscription,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.delivery.test_delivery_worker import database_url
from tests.subscriptions.imports.helpers import csv_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
ROWS, CHUNK, WRITERS = 1200, 100, 2
FILE_CHUNK = CHUNK * WRITERS  # rows of the file read at once, shared among the writers
HELD = 3 * FILE_CHUNK + 10  # the position of a number in the fourth chunk of the file


def _command(*args):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "PORTAL_IMPORT_LEASE_SECONDS": "0",
        "PORTAL_IMPORT_WRITERS": str(WRITERS),
    }
    return [sys.executable, "manage.py", "import_subscriptions", *args], env


def _wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_import_resumes_after_its_last_chunk_and_applies_each_row_once(tmp_path):
    keyword = KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="JOIN")
    phones = [f"+1202555{n:04d}" for n in range(ROWS)]
    lines = [
        f"{p},12345,JOIN,{'Unsubscribe' if n % 7 == 0 else 'Active'},,"
        for n, p in enumerate(phones)
    ]
    lines[3] = "not-a-number,12345,JOIN,Active,,"
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes(*lines))
    # Another connection holds the contact of a number in the fourth chunk: its writer
    # commits three chunks and then waits in the fourth, where the process is killed. The
    # other writer goes on until the chunks handed to the waiting one fill its inbox.
    held = phones[HELD]
    waiting = chunks.writer_of(held, WRITERS)
    Contact.objects.create(phone=held)
    blocker = psycopg.connect(database_url())
    blocker.execute("SELECT id FROM subscriptions_contact WHERE phone = %s FOR UPDATE", [held])
    # The import hands each chunk to the writers' inboxes (one chunk each) in writer order.
    # The waiting writer holds the fourth chunk and has the fifth in its inbox; the import
    # stops at handing it the sixth. A writer before it in that order got the sixth too.
    committed = [(6 if writer < waiting else 5) * FILE_CHUNK for writer in range(WRITERS)]
    committed[waiting] = 3 * FILE_CHUNK

    command, env = _command(str(path), "--chunk-size", str(CHUNK))
    worker = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for(lambda: ImportJob.objects.filter(part_cursors=committed).exists())
        time.sleep(0.5)  # in the fourth chunk's transaction, waiting for the lock
        job = ImportJob.objects.get()
        assert (job.status, job.cursor, job.part_cursors) == (
            ImportStatus.RUNNING,
            3 * FILE_CHUNK,
            committed,
        )
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        blocker.rollback()
        blocker.close()
    assert worker.returncode == -signal.SIGKILL
    applied_before = {
        n + 2  # the file line of data row n
        for n, phone in enumerate(phones)
        if n != 3 and n < committed[chunks.writer_of(phone, WRITERS)]
    }
    events = SubscriptionEvent.objects.filter(detail__import_job=job.pk)
    assert set(events.values_list("detail__line", flat=True)) == applied_before
    assert events.count() == len(applied_before)

    command, env = _command(str(path), "--resume", str(job.pk), "--chunk-size", str(CHUNK))
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr

    job.refresh_from_db()
    assert (job.status, job.total, job.processed, job.errors) == ("done", ROWS, ROWS, 1)
    events = SubscriptionEvent.objects.filter(detail__import_job=job.pk)
    assert events.count() == ROWS - 1
    assert not events.values("detail__line").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert job.applied == ROWS - 1 and job.row_errors.count() == 1
    assert Subscription.objects.filter(keyword=keyword).count() == ROWS - 1
    assert Subscription.objects.filter(status=Status.OPTED_OUT).count() == len(
        [n for n in range(ROWS) if n % 7 == 0 and n != 3]
    )
    # One outbox row per applied (contact, code, account), none twice.
    assert ProviderSync.objects.filter(event__in=events).count() == ROWS - 1
