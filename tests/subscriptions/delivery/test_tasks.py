"""Task plumbing: enqueueing many deliveries at once on the database queue."""

import pytest
from django.test import override_settings
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from subscriptions.common.queueing import traced_enqueue, traced_enqueue_each
from subscriptions.delivery.tasks import deliver_sync

pytestmark = pytest.mark.django_db
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
QUEUE_FIELDS = ["priority", "task_path", "queue_name", "run_after", "backend_name", "status"]


@override_settings(TASKS=DATABASE_QUEUE)
def test_enqueue_each_writes_the_rows_enqueue_writes_one_at_a_time():
    traced_enqueue(deliver_sync, 7)
    single = DBTaskResult.objects.get()
    traced_enqueue_each(deliver_sync, [8, 9])
    many = sorted(DBTaskResult.objects.exclude(pk=single.pk), key=lambda r: r.args_kwargs["args"])
    assert [row.args_kwargs for row in many] == [
        {"args": [8], "kwargs": {"request_id": ""}},
        {"args": [9], "kwargs": {"request_id": ""}},
    ]
    assert single.args_kwargs == {"args": [7], "kwargs": {"request_id": ""}}
    expected = {field: getattr(single, field) for field in QUEUE_FIELDS}
    assert [{field: getattr(row, field) for field in QUEUE_FIELDS} for row in many] == [
        expected,
        expected,
    ]
    assert len({single.pk, *(row.pk for row in many)}) == 3
    # What the worker picks up and runs: due now, deliver_sync(pk, request_id=...).
    assert DBTaskResult.objects.ready().count() == 3
    assert [(r.task_result.task, r.task_result.args) for r in many] == [
        (deliver_sync, [8]),
        (deliver_sync, [9]),
    ]


@override_settings(TASKS=DATABASE_QUEUE)
def test_enqueue_each_announces_each_task_as_enqueue_does():
    from django.tasks.signals import task_enqueued

    announced = []

    def receiver(sender, task_result, **kwargs):
        announced.append(task_result.args)

    task_enqueued.connect(receiver)
    try:
        traced_enqueue_each(deliver_sync, [8, 9])
    finally:
        task_enqueued.disconnect(receiver)
    assert announced == [[8], [9]]


@pytest.mark.parametrize(
    ("old_path", "new_path"),
    [
        ("subscriptions.tasks.deliver_sync", "subscriptions.delivery.tasks.deliver_sync"),
        ("subscriptions.tasks.deliver_message", "subscriptions.delivery.tasks.deliver_message"),
        ("subscriptions.tasks.run_import", "subscriptions.imports.tasks.run_import"),
        (
            "subscriptions.tasks.send_preferences_code",
            "subscriptions.preferences.tasks.send_preferences_code",
        ),
    ],
)
def test_task_rows_queued_by_the_first_release_still_resolve(old_path, new_path):
    """A task row stores its task's path; rows written before the move name the old one."""
    old = import_string(old_path)
    assert old is import_string(new_path)
    assert old.module_path == new_path  # new rows are written with the new path
