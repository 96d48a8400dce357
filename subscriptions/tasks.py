"""django.tasks tasks: they take ids and call the code that does the work.

Each task also takes the id of the request that enqueued it (`traced_enqueue`) and binds it
while it runs, so the worker's log lines, provider calls included, carry the same request id
as the web request that caused them.
"""

import functools

from django.tasks import task
from django.tasks.signals import task_enqueued
from django.utils.json import normalize_json
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

from portal.observability import bind_request_id, current_request_id
from subscriptions import delivery, imports, messaging, preferences


def _with_request_id(func):
    @functools.wraps(func)
    def run(*args, request_id="", **kwargs):
        with bind_request_id(request_id):
            return func(*args, **kwargs)

    return run


def traced_enqueue(task_or_configured, *args):
    """Enqueue with the current request id (empty outside a request, e.g. the sweeper)."""
    return task_or_configured.enqueue(*args, request_id=current_request_id())


def traced_enqueue_each(task, ids):
    """`traced_enqueue(task, pk)` for every id. The database queue (the production backend)
    gets all its rows in one INSERT: a row and a commit per task, written one at a time,
    were most of the time of a large import. The rows are the ones its `enqueue` writes
    (bulk_create skips the model's pre_save, which turns "no run_after" into its far date)."""
    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        for pk in ids:
            traced_enqueue(task, pk)
        return
    backend.validate_task(task)
    kwargs = {"request_id": current_request_id()}
    rows = DBTaskResult.objects.bulk_create(
        [
            DBTaskResult(
                id=backend._get_id(),
                args_kwargs=normalize_json({"args": (pk,), "kwargs": kwargs}),
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                run_after=task.run_after or get_date_max(),
                backend_name=backend.alias,
            )
            for pk in ids
        ]
    )
    for row in rows:  # as the backend's own enqueue does (Django logs it, receivers may count)
        task_enqueued.send(type(backend), task_result=row.task_result)


@task
@_with_request_id
def deliver_message(message_id: int):
    messaging.deliver_message(message_id)


@task
@_with_request_id
def deliver_sync(sync_id: int):
    delivery.deliver_sync(sync_id)


@task
@_with_request_id
def run_import(job_id: int):
    imports.run_stored(job_id)


@task
@_with_request_id
def send_preferences_code(phone: str, language: str):
    preferences.send_code(phone, language)
