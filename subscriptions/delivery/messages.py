"""Texts the portal sends (replies, prompts, one-time codes): written as OutboundMessage
rows and handed to the worker after commit, never sent inside a request or transaction.
Failed sends follow the provider-sync retry policy (policy.py) and its sweeper (sweep.py)."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from subscriptions.delivery import policy, tasks
from subscriptions.models import MessageStatus, OutboundMessage
from subscriptions.providers.base import ProviderError, redacted
from subscriptions.providers.registry import adapter_for


def queue_text(phone, short_code, text, purpose):
    message = OutboundMessage.objects.create(
        phone=phone, short_code=short_code, provider=short_code.provider, purpose=purpose, text=text
    )
    transaction.on_commit(lambda: _enqueue(message.pk))
    return message


def _enqueue(message_id, run_after=None):
    policy.enqueue(tasks.deliver_message, message_id, run_after=run_after)


def _claim(message_id, now):
    """Take the message for one attempt: queued and not leased by another worker."""
    with transaction.atomic():
        # of=("self",): with the joined short code locked too, a second worker would skip
        # (never send) any other message on the same code while the first one is claimed.
        message = (
            OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("short_code", "provider")
            .filter(
                Q(locked_until__isnull=True) | Q(locked_until__lte=now),
                pk=message_id,
                status=MessageStatus.QUEUED,
            )
            .first()
        )
        if message is not None:
            message.attempts += 1
            message.locked_until = now + policy.lease()
            message.save(update_fields=["attempts", "locked_until"])
        return message


def deliver_message(message_id):
    """Send one queued text through its provider. Runs in the worker."""
    message = _claim(message_id, timezone.now())
    if message is None:
        return
    try:
        adapter_for(message.provider, message=message).send_text(message)
    except ProviderError as error:
        _record_failure(message, redacted(error, message.provider))
        return
    message.status = MessageStatus.SENT
    message.sent_at = timezone.now()
    message.locked_until = None
    message.save(update_fields=["status", "sent_at", "locked_until"])


def _record_failure(message, error):
    retry_at = policy.next_attempt_at(message.attempts, error, timezone.now())
    message.locked_until = None
    if retry_at is None:
        message.status = MessageStatus.FAILED
        message.last_error = policy.failure_text(message.attempts, error)
    else:
        message.next_attempt_at = retry_at
        message.last_error = str(error)
    message.save(update_fields=["status", "last_error", "next_attempt_at", "locked_until"])
    if retry_at is not None:
        _enqueue(message.pk, run_after=retry_at)
