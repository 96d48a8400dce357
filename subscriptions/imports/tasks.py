"""Task entry point of imports (the body imports the pipeline: no import cycle)."""

from django.tasks import task

from subscriptions.common.queueing import QUEUE_BULK, with_request_id


@task(queue_name=QUEUE_BULK)
@with_request_id
def run_import(job_id: int):
    from subscriptions.imports import setbased

    setbased.run_stored(job_id)
