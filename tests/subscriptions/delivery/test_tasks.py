"""Task plumbing: enqueueing many deliveries at once on the database queue."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from subscriptions.common.queueing import (
    QUEUE_BULK,
    QUEUE_PEOPLE,
    QUEUE_SYNCS,
    traced_enqueue,
    traced_enqueue_each,
)
from subscriptions.delivery import sweep
from subscriptions.delivery.tasks import deliver_message, deliver_sync, deliver_sync_group
from subscriptions.imports.tasks import run_import
from subscriptions.models import OutboundMessage, ProviderSync
from subscriptions.preferences.tasks import send_preferences_code
from subscriptions.reconciliation.tasks import reconcile
from tests.factories import ContactFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db
DATABASE_QUEUE = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["people", "default", "bulk"],
    }
}
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


def test_each_kind_of_task_has_its_queue_and_the_settings_serve_them_all(settings):
    assert deliver_message.queue_name == send_preferences_code.queue_name == QUEUE_PEOPLE
    assert deliver_sync.queue_name == QUEUE_SYNCS
    assert run_import.queue_name == reconcile.queue_name == QUEUE_BULK
    assert deliver_sync_group.queue_name == QUEUE_SYNCS
    assert set(settings.TASK_QUEUES) == {QUEUE_PEOPLE, QUEUE_SYNCS, QUEUE_BULK}
    assert len({QUEUE_PEOPLE, QUEUE_SYNCS, QUEUE_BULK}) == 3


@override_settings(TASKS=DATABASE_QUEUE)
def test_the_sweeper_redrives_texts_and_syncs_onto_their_own_queues():
    code = ShortCodeFactory()
    contact = ContactFactory()
    past = timezone.now() - timedelta(days=1)
    ProviderSync.objects.create(
        contact=contact, short_code=code, provider=code.provider, next_attempt_at=past
    )
    OutboundMessage.objects.create(
        phone=contact.phone,
        short_code=code,
        provider=code.provider,
        purpose="reply",
        text="hi",
        next_attempt_at=past,
    )
    assert sweep.sweep() == (1, 1)
    queued = dict(DBTaskResult.objects.values_list("task_path", "queue_name"))
    assert queued == {
        "subscriptions.delivery.tasks.deliver_sync": "default",
        "subscriptions.delivery.tasks.deliver_message": "people",
    }
