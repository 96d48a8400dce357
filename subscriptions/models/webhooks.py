"""Outbound webhooks: endpoints, the events to tell them about, and their deliveries."""

import base64
import secrets
import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from subscriptions.common import crypto
from subscriptions.webhooks.ssrf import validate_webhook_url

SECRET_PREFIX = "whsec_"


class EventType(models.TextChoices):
    CONSENT_CHANGED = "consent.changed", "Consent changed"
    REVOCATION_RECEIVED = "revocation.received", "Revocation received"
    REVOCATION_DECIDED = "revocation.decided", "Revocation decided"
    RECONCILIATION_DRIFT = "reconciliation.drift", "Reconciliation drift"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


def validate_event_types(value):
    if not isinstance(value, list) or not value:
        raise ValidationError("Give a non-empty list of event types.", code="invalid")
    unknown = [item for item in value if item not in EventType.values]
    if unknown:
        raise ValidationError(
            f"Unknown event type(s) {unknown!r}; known: {', '.join(EventType.values)}.",
            code="unknown_event_type",
        )


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """A URL of a brand's system that is told about consent changes, signed with a secret."""

    url = models.URLField(max_length=2000, validators=[validate_webhook_url])
    events = models.JSONField(default=list, validators=[validate_event_types])
    description = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    failing_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="First failed attempt since the last success.",
    )
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.url

    def clean(self):
        if isinstance(self.events, list):
            self.events = list(dict.fromkeys(self.events))

    # Secrets: {"current": whsec_..., "previous": whsec_... | None, "previous_until": iso}
    @property
    def _secrets(self):
        return crypto.decrypt_json(self.secret_encrypted)

    def set_new_secret(self) -> str:
        """A fresh secret replacing any other at once; returned to be shown once."""
        secret = new_secret()
        self.secret_encrypted = crypto.encrypt_json({"current": secret})
        return secret

    def rotate_secret(self, grace: timedelta, now: datetime | None = None) -> str:
        """A new secret; the old one still signs (a second signature) for `grace`."""
        now = now or timezone.now()
        old = self._secrets.get("current")
        secret = new_secret()
        stored = {"current": secret}
        if old and grace > timedelta(0):
            stored.update(previous=old, previous_until=(now + grace).isoformat())
        self.secret_encrypted = crypto.encrypt_json(stored)
        return secret

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        while its grace period runs."""
        stored = self._secrets
        keys = [stored["current"]] if stored.get("current") else []
        until = stored.get("previous_until")
        if (
            stored.get("previous")
            and until
            and datetime.fromisoformat(until) > (now or timezone.now())
        ):
            keys.append(stored["previous"])
        return keys

    @property
    def rotation_ends_at(self):
        until = self._secrets.get("previous_until")
        return datetime.fromisoformat(until) if until else None


def _message_id():
    return f"msg_{uuid.uuid4().hex}"


class WebhookEvent(models.Model):
    """One event to announce (the signed body is built from `payload`); its `msg_id` is the
    webhook-id header of every delivery and every retry of it."""

    msg_id = models.CharField(max_length=40, unique=True, default=_message_id, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    phone = models.CharField(max_length=20, blank=True, help_text="Orders deliveries per number.")
    payload = models.JSONField(help_text="{type, timestamp, data}, exactly as sent.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.type} {self.msg_id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: the webhook outbox row."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    phone = models.CharField(max_length=20, blank=True, editable=False)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is sending it until then (its lease)."
    )
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The lane of one number at one endpoint: what is still to be sent, in order.
            models.Index(
                fields=["endpoint", "phone", "id"],
                condition=Q(status="pending"),
                name="webhook_lane_idx",
            ),
            # What a drain claims: an endpoint's pending rows, oldest first.
            models.Index(
                fields=["endpoint", "id"],
                condition=Q(status="pending"),
                name="webhook_pending_idx",
            ),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx"),
            models.Index(fields=["endpoint", "-id"], name="webhook_endpoint_idx"),
        ]

    def __str__(self):
        return f"{self.event.type} -> {self.endpoint}: {self.status}"

    @property
    def event_type(self):
        return self.event.type
