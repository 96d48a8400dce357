"""Queue plumbing: how the portal's tasks are enqueued, one at a time or in bulk.

Each task also takes the id of the request that enqueued it (`traced_enqueue`) and binds it
while it runs, so the worker's log lines, provider calls included, carry the same request id
as the web request that caused them.
"""

import functools
from collections import Counter

from django.db.models import Q
from django.tasks import TaskResultStatus
from django.tasks.signals import task_enqueued
from django.utils.json import normalize_json
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

from portal.observability import bind_request_id, current_request_id

# Queues by urgency (issue "Provider truth"). A worker process serves one queue, so a bulk
# backlog can never delay a text to a person:
# - PEOPLE: texts to people (one-time codes, replies, confirmations, double opt-in prompts);
# - SYNCS: consent changes to providers (the outbox);
# - BULK: imports, reconciliation, webhooks and other work that may take minutes.
QUEUE_PEOPLE = "people"
QUEUE_SYNCS = "default"  # the first release's queue: rows it queued still drain
QUEUE_BULK = "bulk"

# Tasks that keep several provider calls in flight themselves (a grouped delivery uses all
# its worker's call slots, delivery/overlap.py): a worker with threads runs one of them at a
# time and leaves the others to other workers (common/worker.py), instead of claiming
# several that would only share its slots while other workers idle.
SOLO_TASKS = frozenset({"subscriptions.delivery.tasks.deliver_sync_group"})


def with_request_id(func):
    """Bind the enqueuing request's id while a task runs (every task entry point uses it)."""

    @functools.wraps(func)
    def run(*args, request_id="", **kwargs):
        with bind_request_id(request_id):
            return func(*args, **kwargs)

    return run


def traced_enqueue(task_or_configured, *args):
    """Enqueue with the current request id (empty outside a request, e.g. the sweeper)."""
    return task_or_configured.enqueue(*args, request_id=current_request_id())


def queued_in_database(task) -> bool:
    """Whether `task`'s backend keeps its queue in the portal's database (django-tasks-db,
    the production backend). Its rows then commit, or roll back, with the transaction that
    enqueues them: a task enqueued in the transaction that records the work it follows can
    never be lost between the two commits, and costs no commit of its own."""
    return isinstance(task.get_backend(), DatabaseBackend)


def traced_enqueue_each(task, ids, *, run_after=None):
    """`traced_enqueue(task, pk)` for every id; `run_after` ({id: when}) defers some of them.
    The database queue (the production backend) gets all its rows in one INSERT: a row and
    a commit per task, written one at a time, were most of the time of a large import. The
    rows are the ones its `enqueue` writes (bulk_create skips the model's pre_save, which
    turns "no run_after" into its far date)."""
    run_after = run_after or {}
    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        for pk in ids:
            when = run_after.get(pk)
            traced_enqueue(task.using(run_after=when) if when else task, pk)
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
                run_after=run_after.get(pk) or task.run_after or get_date_max(),
                backend_name=backend.alias,
            )
            for pk in ids
        ]
    )
    for row in rows:  # as the backend's own enqueue does (Django logs it, receivers may count)
        task_enqueued.send(type(backend), task_result=row.task_result)


def waiting_by_first_arg(task, by) -> Counter | None:
    """How many tasks of `task` wait in the database queue, runnable no later than `by`,
    counted by their first argument (an endpoint id, say); None for a backend without a
    queue to look into (the immediate backend runs each task as it is enqueued)."""
    if not isinstance(task.get_backend(), DatabaseBackend):
        return None
    rows = DBTaskResult.objects.filter(
        Q(run_after=get_date_max()) | Q(run_after__lte=by),
        status=TaskResultStatus.READY,
        task_path=task.module_path,
        queue_name=task.queue_name,
    ).values_list("args_kwargs", flat=True)
    return Counter(args["args"][0] for args in rows if args.get("args"))
