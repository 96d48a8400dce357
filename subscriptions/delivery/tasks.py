"""Task entry points of delivery. Each imports the code it runs inside its body, so that
the delivery modules can import these tasks at module level without an import cycle."""

from django.tasks import task

from subscriptions.common.queueing import QUEUE_PEOPLE, QUEUE_SYNCS, with_request_id


# Texts to people (codes, replies, confirmations, prompts): never behind syncs or bulk work.
@task(queue_name=QUEUE_PEOPLE)
@with_request_id
def deliver_message(message_id: int):
    from subscriptions.delivery import messages

    messages.deliver_message(message_id)


@task(queue_name=QUEUE_SYNCS)
@with_request_id
def deliver_sync(sync_id: int):
    from subscriptions.delivery import worker

    worker.deliver_sync(sync_id)


@task(queue_name=QUEUE_SYNCS)
@with_request_id
def deliver_sync_group(sync_ids: list[int]):
    """Several rows of a bulk source at once: their code-wide STOPs share provider calls."""
    from subscriptions.delivery import grouped

    grouped.deliver_group(sync_ids)
