"""Issue 16: a dead import is found and failed by the sweeper; old uploads are deleted."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from subscriptions.imports import maintenance
from subscriptions.models import ImportJob, ImportStatus

pytestmark = pytest.mark.django_db


def running(heartbeat_ago, **fields):
    now = timezone.now()
    return ImportJob.objects.create(
        file_name="x.csv",
        status=ImportStatus.RUNNING,
        started_at=now - timedelta(hours=2),
        heartbeat_at=now - heartbeat_ago if heartbeat_ago is not None else None,
        total=10,
        processed=4,
        **fields,
    )


def test_a_running_import_without_a_heartbeat_is_marked_failed_by_the_sweeper(settings):
    settings.PORTAL_IMPORT_STALL_SECONDS = 900
    dead = running(timedelta(hours=1))
    never = running(None)
    alive = running(timedelta(seconds=30))

    call_command("sweep_outbox")

    for job in (dead, never):
        job.refresh_from_db()
        assert job.status == ImportStatus.FAILED
        assert "worker stopped" in job.failure and "4 of 10" in job.failure
        assert job.finished_at is not None
    alive.refresh_from_db()
    assert alive.status == ImportStatus.RUNNING


def test_uploaded_files_are_deleted_after_the_retention(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.PORTAL_IMPORT_FILE_RETENTION_DAYS = 30
    now = timezone.now()
    old = ImportJob.objects.create(
        file_name="old.csv", status=ImportStatus.DONE, finished_at=now - timedelta(days=31)
    )
    old.file.save("old.csv", ContentFile(b"phone\n"))
    recent = ImportJob.objects.create(
        file_name="new.csv", status=ImportStatus.DONE, finished_at=now - timedelta(days=1)
    )
    recent.file.save("new.csv", ContentFile(b"phone\n"))
    old_path = old.file.path

    assert maintenance.purge_files(now) == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert not old.file and not (tmp_path / old_path).exists()
    assert recent.file and recent.file.storage.exists(recent.file.name)
