"""Texts to people (delivery/messages.py): when their task is handed to the queue."""

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from subscriptions.delivery import messages, tasks
from subscriptions.models import MessagePurpose, MessageStatus, OutboundMessage
from tests.factories import ShortCodeFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+15555550199"


class RolledBack(Exception):
    pass


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {
        "default": {**settings.TASKS["default"], "BACKEND": "django_tasks_db.DatabaseBackend"}
    }


def test_on_the_database_queue_the_task_row_is_written_in_the_texts_own_transaction(
    database_queue,
):
    code = ShortCodeFactory()
    with transaction.atomic():
        message = messages.queue_text(PHONE, code, "You are unsubscribed.", MessagePurpose.REPLY)
        # Already there before the commit: no second commit of its own after it.
        queued = list(DBTaskResult.objects.values_list("task_path", "args_kwargs"))
    assert queued == [
        (tasks.deliver_message.module_path, {"args": [message.pk], "kwargs": {"request_id": ""}})
    ]
    assert DBTaskResult.objects.count() == 1  # and committed with the text, once


def test_on_the_database_queue_a_rolled_back_text_leaves_no_task(database_queue):
    code = ShortCodeFactory()
    with pytest.raises(RolledBack), transaction.atomic():
        messages.queue_text(PHONE, code, "You are unsubscribed.", MessagePurpose.REPLY)
        raise RolledBack
    assert not OutboundMessage.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_other_backends_get_the_task_only_on_commit():
    # The immediate backend (these tests' settings) runs a task at once: inside the
    # transaction it would call the provider there.
    code = ShortCodeFactory()
    with transaction.atomic():
        message = messages.queue_text(PHONE, code, "You are unsubscribed.", MessagePurpose.REPLY)
        assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.QUEUED
    assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.SENT
