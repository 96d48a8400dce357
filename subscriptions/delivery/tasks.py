"""Task entry points of delivery. Each imports the code it runs inside its body, so that
the delivery modules can import these tasks at module level without an import cycle."""

from django.tasks import task

from subscriptions.common.queueing import with_request_id


@task
@with_request_id
def deliver_message(message_id: int):
    from subscriptions.delivery import messages

    messages.deliver_message(message_id)


@task
@with_request_id
def deliver_sync(sync_id: int):
    from subscriptions.delivery import worker

    worker.deliver_sync(sync_id)
