"""Task entry points of webhooks, on the bulk queue. Each imports the code it runs inside
its body, so that webhook modules can import these tasks at module level without a cycle."""

from django.tasks import task

from subscriptions.common.queueing import QUEUE_BULK, with_request_id


@task(queue_name=QUEUE_BULK)
@with_request_id
def deliver_endpoint(endpoint_id: int):
    """Send the endpoint's due deliveries, batch after batch (worker.drain)."""
    from subscriptions.webhooks import worker

    worker.drain(endpoint_id)


@task(queue_name=QUEUE_BULK)
@with_request_id
def deliver_webhook(delivery_id: int):
    """One task per delivery, as the first release queued them: rows already in a queue
    still run, as a drain of the delivery's endpoint."""
    from subscriptions.webhooks import worker

    worker.deliver(delivery_id)
