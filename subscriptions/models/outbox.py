"""The durable outbox: provider syncs, outbound texts and the provider call log."""

from django.db import models
from django.utils import timezone

from subscriptions.models.catalog import ProviderAccount, ShortCode
from subscriptions.models.choices import MessagePurpose, MessageStatus, SyncStatus
from subscriptions.models.consent import Contact, SubscriptionEvent


class ProviderSync(models.Model):
    """The outbox: bring one provider account in line with the portal's current state for
    one (contact, short code). Delivery reconciles current state, so retries are idempotent.
    """

    # No single-column indexes on contact and provider: sync_target_idx and
    # sync_provider_idx lead with them (two indexes fewer to write for every outbox row).
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="syncs", db_index=False
    )
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="syncs")
    provider = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="syncs", db_index=False
    )
    event = models.ForeignKey(
        SubscriptionEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="syncs"
    )
    operation = models.CharField(max_length=40, default="reconcile")
    status = models.CharField(max_length=12, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    detail = models.TextField(blank=True, help_text="What was sent, or why it stayed local.")
    state = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="What the provider was left knowing: {program keyword id: opted in?}. "
        "The next delivery to the same target sends only the difference.",
    )
    state_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="Orders the states written for one target (contact, short code, account): "
        "the highest is what the provider is known to hold now.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="sync_due_idx"),
            models.Index(fields=["contact", "short_code", "provider"], name="sync_target_idx"),
            models.Index(fields=["provider", "status"], name="sync_provider_idx"),
        ]

    def __str__(self):
        return f"sync {self.contact} {self.short_code.code} -> {self.provider.name}: {self.status}"


class OutboundMessage(models.Model):
    """A text the portal asked a provider to send (replies, prompts, one-time codes)."""

    phone = models.CharField(max_length=20)
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="messages")
    provider = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="messages")
    purpose = models.CharField(max_length=20, choices=MessagePurpose.choices)
    text = models.TextField(
        help_text="What was sent; a one-time code is masked here (see `sealed_text`)."
    )
    sealed_text = models.TextField(
        blank=True,
        editable=False,
        help_text="A text holding a one-time code, encrypted for the worker (common.crypto) "
        "and erased once sent or failed; never shown.",
    )
    text_hmac = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="HMAC-SHA256 of the full text of a masked message: proves what was sent "
        "without keeping it.",
    )
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is sending it until then (its lease)."
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["phone", "-created_at"], name="message_phone_idx"),
            models.Index(fields=["status", "created_at"], name="message_status_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="message_due_idx"),
        ]

    def __str__(self):
        return f"{self.purpose} to {self.phone}: {self.status}"


class ProviderCall(models.Model):
    """One HTTP call to a provider, with secrets redacted."""

    provider = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="calls")
    sync = models.ForeignKey(
        ProviderSync, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    message = models.ForeignKey(
        OutboundMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    method = models.CharField(max_length=10)
    url = models.TextField()
    request_body = models.TextField(blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    elapsed_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="call_created_idx")]

    def __str__(self):
        return f"{self.method} {self.url} -> {self.status_code}"
