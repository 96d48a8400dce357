"""Task entry point of reconciliation, on the bulk queue (the body imports the run: no
import cycle)."""

from django.tasks import task

from subscriptions.common.queueing import QUEUE_BULK, with_request_id


@task(queue_name=QUEUE_BULK)
@with_request_id
def reconcile(reconciliation_id: int):
    from subscriptions.reconciliation import run

    run.run(reconciliation_id)
