"""Texts the portal sends (replies, prompts, one-time codes): written as OutboundMessage
rows and handed to the worker when their transaction commits (on the database queue the
task row is part of that transaction), never sent inside a request or transaction.
Failed sends follow the provider-sync retry policy (policy.py) and its sweeper (sweep.py).

A text holding a one-time code (`secret`) is never stored in clear: `text` keeps it masked,
`text_hmac` an HMAC of the full text (what was sent can be proven, not read), and
`sealed_text` the full text encrypted for the worker (common.crypto), erased once the text
is sent or has failed for good; the code is redacted from the provider call log too. The
one exception is the console provider, which sends nothing anywhere: its outbox is the
demo's handset, so its texts are kept as written (admin: Outbound messages).
"""

from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from subscriptions.common import crypto
from subscriptions.delivery import policy, tasks
from subscriptions.models import MessageStatus, OutboundMessage, ProviderKind
from subscriptions.providers.base import PermanentError, ProviderError, redact, redacted
from subscriptions.providers.registry import adapter_for

MASK = "\u2022" * 6


def text_hmac(text):
    return salted_hmac("subscriptions.outbound-text", text, algorithm="sha256").hexdigest()


def queue_text(phone, short_code, text, purpose, *, secret=""):
    """Queue `text`; `secret` (a one-time code in it) is masked in what is stored."""
    fields = {"text": text}
    if secret and short_code.provider.kind != ProviderKind.CONSOLE:
        fields = {
            "text": text.replace(secret, MASK),
            "sealed_text": crypto.encrypt_json({"text": text, "secret": secret}),
            "text_hmac": text_hmac(text),
        }
    message = OutboundMessage.objects.create(
        phone=phone, short_code=short_code, provider=short_code.provider, purpose=purpose, **fields
    )
    _enqueue_when_committed(message.pk)
    return message


def _enqueue_when_committed(message_id):
    """The text's task, runnable once the transaction that wrote the text commits. The
    database queue (production) gets its row now, inside that transaction: a worker sees it
    exactly when the text itself is committed, and never if it rolls back, without a second
    commit (and disk flush) of its own after the request's. Any other backend may run a task
    at once (the immediate one does, in the tests), so there it is enqueued on commit."""
    backend = tasks.deliver_message.get_backend()
    if isinstance(backend, DatabaseBackend) and router.db_for_write(DBTaskResult) == (
        transaction.get_connection().alias
    ):
        _enqueue(message_id)
    else:
        transaction.on_commit(lambda: _enqueue(message_id))


def unsealed(message):
    """(full text, secret) of a message; the secret is "" for a text stored in clear."""
    if not message.sealed_text:
        return message.text, ""
    sealed = crypto.decrypt_json(message.sealed_text)
    return sealed["text"], sealed["secret"]


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
    if not message.provider.is_active:
        # A disabled account sends nothing, texts included (as its outbox rows: worker.py).
        inactive = PermanentError(f"provider account {message.provider.name!r} is inactive")
        _record_failure(message, inactive)
        return
    masked = message.text
    adapter = adapter_for(message.provider, message=message)
    message.text, secret = unsealed(message)  # in memory only: `text` is never saved here
    if secret and hasattr(adapter, "extra_secrets"):
        adapter.extra_secrets.add(secret)  # kept out of the provider call log
    try:
        adapter.send_text(message)
    except ProviderError as error:
        message.text = masked
        error = redacted(error, message.provider)
        error.args = (redact(str(error), [secret]),)
        _record_failure(message, error)
        return
    message.text = masked
    message.status = MessageStatus.SENT
    message.sent_at = timezone.now()
    message.locked_until = None
    message.sealed_text = ""
    message.save(update_fields=["status", "sent_at", "locked_until", "sealed_text"])


def _record_failure(message, error):
    retry_at = policy.next_attempt_at(message.attempts, error, timezone.now())
    message.locked_until = None
    if retry_at is None:
        message.status = MessageStatus.FAILED
        message.last_error = policy.failure_text(message.attempts, error)
        message.sealed_text = ""  # a code that was never sent has no use left
    else:
        message.next_attempt_at = retry_at
        message.last_error = str(error)
    message.save(
        update_fields=["status", "last_error", "next_attempt_at", "locked_until", "sealed_text"]
    )
    if retry_at is not None:
        _enqueue(message.pk, run_after=retry_at)
