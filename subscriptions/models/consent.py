"""Consent state and its append-only history: contacts, subscriptions, stops, events."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from subscriptions.common.errors import AppendOnlyViolation
from subscriptions.models.catalog import Keyword, ShortCode
from subscriptions.models.choices import Action, Outcome, Source, Status


class Contact(models.Model):
    phone = models.CharField(max_length=20, help_text="E.164")
    locale = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phone"]
        # A constraint, not unique=True on the field: on PostgreSQL Django gives a unique
        # CharField a second, varchar_pattern_ops index for LIKE 'prefix%' lookups, which
        # nothing here makes (the admin's search is a contains), and every new number would
        # write it (an import adds hundreds of thousands).
        constraints = [
            models.UniqueConstraint(
                fields=["phone"],
                name="contact_phone_unique",
                violation_error_message="A contact with this phone number already exists.",
            )
        ]

    def __str__(self):
        return self.phone


class Subscription(models.Model):
    # No single-column indexes on the keys: the unique (contact, keyword) constraint and the
    # Meta indexes sub_code_status_idx and sub_keyword_status_idx lead with each of them
    # (three indexes fewer to write on every consent change and import row).
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="subscriptions", db_index=False
    )
    keyword = models.ForeignKey(
        Keyword, on_delete=models.PROTECT, related_name="subscriptions", db_index=False
    )
    # Denormalised from keyword so per-code questions need no join.
    short_code = models.ForeignKey(
        ShortCode, on_delete=models.PROTECT, related_name="subscriptions", db_index=False
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(default=timezone.now)
    last_occurred_at = models.DateTimeField(
        help_text="occurred_at of the last applied event; older events are stale."
    )
    last_source = models.CharField(max_length=10, choices=Source.choices)
    pending_since = models.DateTimeField(null=True, blank=True)
    # Indexed only where set (sub_stop_idx): most subscriptions never had a STOP, and an
    # index entry for each NULL would be written on every import row and consent change.
    opted_out_by_stop = models.ForeignKey(
        "ShortCodeStop",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        help_text="The STOP that opted this out; START restores exactly these.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "keyword"], name="subscription_contact_keyword_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="subscription_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=Status.PENDING, pending_since__isnull=False)
                | ~Q(status=Status.PENDING),
                name="subscription_pending_has_since",
            ),
        ]
        permissions = [
            ("change_consent", "Can opt numbers in and out (API, admin actions)"),
            ("submit_inbound", "Can submit inbound texts and provider postbacks"),
            ("import_subscriptions", "Can import subscriptions from CSV"),
            ("export_evidence", "Can export consent evidence"),
            ("view_metrics", "Can read /metrics with a staff login"),
        ]
        indexes = [
            models.Index(fields=["short_code", "status"], name="sub_code_status_idx"),
            # Status (and keyword) in the key: batch sendable reads a number's states on a
            # code from the index alone (an index-only scan on PostgreSQL), not from the table.
            models.Index(
                fields=["contact", "short_code", "keyword", "status"],
                name="sub_contact_code_state_idx",
            ),
            models.Index(fields=["keyword", "status"], name="sub_keyword_status_idx"),
            models.Index(fields=["changed_at"], name="sub_changed_idx"),
            models.Index(
                fields=["opted_out_by_stop"],
                condition=Q(opted_out_by_stop__isnull=False),
                name="sub_stop_idx",
            ),
        ]

    def __str__(self):
        return f"{self.contact} / {self.keyword}: {self.status}"


class ShortCodeStop(models.Model):
    """A number that texted STOP on a code. Active until a later confirmed opt-in there."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="stops")
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="stops")
    created_at = models.DateTimeField(help_text="When the STOP occurred.")
    latest_at = models.DateTimeField(
        help_text="When the newest STOP of this stop occurred; older opt-ins are stale."
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "short_code"],
                condition=Q(cleared_at__isnull=True),
                name="one_active_stop_per_code",
            ),
        ]
        indexes = [models.Index(fields=["short_code", "cleared_at"], name="stop_code_idx")]

    def __str__(self):
        return f"STOP {self.contact} on {self.short_code.code}"

    @property
    def is_active(self):
        return self.cleared_at is None


class InboundReceipt(models.Model):
    """First sight of an inbound message id (MO id, postback digest, Idempotency-Key).

    The unique key is what makes a retried message apply once; repeats only count here.
    """

    source = models.CharField(max_length=10, choices=Source.choices)
    external_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)
    repeats = models.PositiveIntegerField(default=0)
    last_repeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="receipt_unique"),
        ]

    def __str__(self):
        return f"{self.source}:{self.external_id}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyViolation("Consent history is append-only: rows cannot be updated.")

    def delete(self):
        raise AppendOnlyViolation("Consent history is append-only: rows cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyViolation("Consent history is append-only: rows cannot be updated.")

    def update_or_create(self, *args, **kwargs):
        raise AppendOnlyViolation("Consent history is append-only: rows cannot be updated.")


# Where an event's history row keeps the provider account it came from (Context.origin_account_id).
ORIGIN_DETAIL_KEY = "provider_account_id"


class SubscriptionEvent(models.Model):
    """The append-only consent history. Never updated, never deleted."""

    # No single-column indexes on these two: event_contact_idx and event_code_idx lead with
    # them (two indexes fewer to write for every history row).
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    short_code = models.ForeignKey(
        ShortCode, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    keyword = models.ForeignKey(
        Keyword,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        help_text="Empty for code-wide events.",
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    old_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    new_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    # Indexed only where set (event_actor_idx): inbound texts, postbacks, the preferences
    # page and command-line imports have no staff actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="Who acted: user, API client, provider, file."
    )
    occurred_at = models.DateTimeField(help_text="When it happened at the source.")
    recorded_at = models.DateTimeField(default=timezone.now)
    consent_text = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    raw_payload = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-recorded_at"], name="event_contact_idx"),
            models.Index(fields=["short_code", "-occurred_at"], name="event_code_idx"),
            # Matches the admin's newest-first order exactly (no sort step on 10M rows) and
            # serves recorded_at ranges (dashboard) as well.
            models.Index(fields=["-recorded_at", "-id"], name="event_recent_idx"),
            # Only events that carry a message id (texts, postbacks) are looked up by it.
            models.Index(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="event_external_idx",
            ),
            models.Index(
                fields=["actor"], condition=Q(actor__isnull=False), name="event_actor_idx"
            ),
        ]

    def __str__(self):
        return f"{self.action} {self.contact} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyViolation("Consent history is append-only: rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation("Consent history is append-only: rows cannot be deleted.")

    def clean(self):
        if self.outcome == Outcome.APPLIED and self.keyword_id and not self.new_status:
            raise ValidationError("An applied program event needs its new status.")

    @property
    def origin_account_id(self) -> int | None:
        """The provider account this change came from, or None (see Context)."""
        value = (self.detail or {}).get(ORIGIN_DETAIL_KEY)
        return int(value) if value is not None else None
