"""The deliveries of a set-based import (PostgreSQL): grouped tasks on the bulk queue, each
for up to GROUP_SIZE outbox rows, written in the chunk's own statement; run by a real
db_worker loop, they deliver every row once."""

import pytest
from django.core.management import call_command
from django.db.models import Count
from django_tasks_db.models import DBTaskResult

from subscriptions.common.queueing import QUEUE_BULK
from subscriptions.delivery import plan
from subscriptions.delivery.tasks import deliver_sync_group
from subscriptions.models import ProviderSync, SyncStatus
from tests.subscriptions.conftest import programs
from tests.subscriptions.imports.helpers import csv_bytes, run_csv

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DATABASE_QUEUE = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["people", "default", "bulk"],
    }
}


def test_an_imports_deliveries_are_grouped_tasks_on_the_bulk_queue(
    settings, monkeypatch, skycore, skycore_account
):
    settings.TASKS = DATABASE_QUEUE
    monkeypatch.setattr(plan, "GROUP_SIZE", 4)  # 10 rows: tasks of 4, 4 and 2
    monkeypatch.setattr("subscriptions.imports.writers.GROUP_SIZE", 4)
    code, _programs = programs(skycore_account, "DEALS")
    rows = [
        f"+1202555{n:04d},{code.code},DEALS,Active,2025-01-01T00:00:00Z,Text" for n in range(10)
    ]

    job = run_csv(csv_bytes(*rows))

    assert job.applied == 10
    tasks = list(DBTaskResult.objects.order_by("enqueued_at", "args_kwargs"))
    assert {(t.task_path, t.queue_name) for t in tasks} == {
        (deliver_sync_group.module_path, QUEUE_BULK)
    }
    groups = sorted((t.args_kwargs["args"][0] for t in tasks), key=len, reverse=True)
    assert [len(g) for g in groups] == [4, 4, 2]
    syncs = sorted(ProviderSync.objects.values_list("pk", flat=True))
    assert sorted(pk for g in groups for pk in g) == syncs  # every row once

    call_command("db_worker", "--batch", "--queue-name", "*", "--no-startup-delay")

    assert len(skycore.calls()) == 10
    statuses = ProviderSync.objects.values("status").annotate(n=Count("pk"))
    assert {s["status"]: s["n"] for s in statuses} == {SyncStatus.SUCCEEDED: 10}
