"""The consent data and the invariants the database itself keeps true."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import crypto


class ProviderKind(models.TextChoices):
    CONSOLE = "console", "Console (records only)"
    SFMC = "sfmc", "Salesforce Marketing Cloud MobileConnect"
    WHATCOUNTS = "whatcounts", "WhatCounts"
    SKYCORE = "skycore", "SkyCore"


class Status(models.TextChoices):
    OPTED_IN = "opted_in", _("Opted in")
    OPTED_OUT = "opted_out", _("Opted out")
    PENDING = "pending", _("Waiting for confirmation")


class Source(models.TextChoices):
    WEB = "web", "Web (preferences page)"
    API = "api", "API"
    MO = "mo", "Text message (MO)"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin"
    POSTBACK = "postback", "Provider postback"
    SYSTEM = "system", "System"


class Action(models.TextChoices):
    OPT_IN = "opt_in", "Opt in"
    OPT_OUT = "opt_out", "Opt out"
    STOP_ALL = "stop_all", "Stop all (code-wide)"
    CUSTOM_STOP = "custom_stop", "Custom stop (one provider account)"
    CONFIRM = "confirm", "Confirm double opt-in"
    RESTART = "restart", "Restart after STOP (START / UNSTOP)"
    HELP = "help", "Help"
    NONE = "none", "No action"


class Outcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Refused"
    NO_CHANGE = "no_change", "No change"
    STALE = "stale", "Stale (older than the last applied event)"


def _new_token():
    return secrets.token_urlsafe(24)


class ProviderAccount(models.Model):
    """One set of credentials at one provider (for SFMC one business unit / MID)."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(
        max_length=20, choices=ProviderKind.choices, default=ProviderKind.CONSOLE
    )
    settings = models.JSONField(
        default=dict, blank=True, help_text="Non-secret settings such as base URLs."
    )
    secrets_encrypted = models.TextField(blank=True, editable=False)
    postback_token = models.CharField(
        max_length=64, unique=True, default=_new_token, editable=False
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def secrets(self):
        return crypto.decrypt_json(self.secrets_encrypted)

    def set_secrets(self, values):
        """Replace the stored secrets; empty values keep what was stored before."""
        merged = {**self.secrets, **{k: v for k, v in values.items() if v not in (None, "")}}
        self.secrets_encrypted = crypto.encrypt_json(merged)


class ShortCode(models.Model):
    """A sender: a short code or a long number."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    brand = models.CharField(max_length=100)
    provider = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="short_codes"
    )
    help_text = models.TextField(
        default="{brand}: reply STOP to cancel, HELP for help. Msg&data rates may apply."
    )
    stop_text = models.TextField(
        default="{brand}: you are unsubscribed and will receive no more messages."
    )
    opt_in_text = models.TextField(
        default="{brand}: you joined {program}. Reply HELP for help, STOP to cancel."
    )
    double_opt_in_prompt = models.TextField(
        default="{brand}: reply Y to confirm {program}. Msg&data rates may apply."
    )
    double_opt_in_window_hours = models.PositiveIntegerField(default=24)
    confirm_expired_text = models.TextField(
        default="{brand}: the time to confirm has passed. Text {program} again to join.",
        help_text="Reply to a confirmation that came after the double opt-in window.",
    )
    stop_blocks_imports = models.BooleanField(
        default=False,
        help_text="When on, an import cannot opt in a number that sent STOP on this code, "
        "not even to a program it never had.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} ({self.brand})"

    def render(self, template, program=""):
        return template.format_map({"brand": self.brand, "program": program, "code": self.code})


class KeywordKind(models.TextChoices):
    PROGRAM = "program", "Program"
    STOP = "stop", "Custom stop"
    HELP = "help", "Help"
    CONFIRM = "confirm", "Double opt-in confirmation"


class Keyword(models.Model):
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="keywords")
    word = models.CharField(max_length=40, help_text="Matched case-insensitively.")
    kind = models.CharField(max_length=10, choices=KeywordKind.choices, default=KeywordKind.PROGRAM)
    title = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    provider_ref = models.CharField(
        max_length=100,
        blank=True,
        help_text="SkyCore CAMPAIGNREF or SFMC MobileConnect message key.",
    )
    double_opt_in = models.BooleanField(default=False)
    is_public = models.BooleanField(
        default=True, help_text="Shown on the preferences page to join."
    )
    provider = models.ForeignKey(
        ProviderAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="keywords",
        help_text="The account that owns this keyword; empty means the short code's.",
    )
    discovered = models.BooleanField(
        default=False, help_text="Created from a provider postback, not by staff."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["short_code__code", "word"]
        constraints = [
            models.UniqueConstraint(fields=["short_code", "word"], name="keyword_word_unique"),
            models.CheckConstraint(condition=Q(word=Upper("word")), name="keyword_word_upper"),
        ]

    def __str__(self):
        return f"{self.word} on {self.short_code.code}"

    def save(self, *args, **kwargs):
        self.word = self.word.strip().upper()
        super().save(*args, **kwargs)

    def clean(self):
        # Forms validate the upper-case constraint before save() would upper-case the word.
        self.word = self.word.strip().upper()

    @property
    def account(self):
        return self.provider if self.provider_id else self.short_code.provider

    @property
    def account_id(self):
        return self.provider_id or self.short_code.provider_id

    @property
    def display_title(self):
        return self.title or self.word


class Contact(models.Model):
    phone = models.CharField(max_length=20, unique=True, help_text="E.164")
    locale = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phone"]

    def __str__(self):
        return self.phone


class Subscription(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="subscriptions")
    keyword = models.ForeignKey(Keyword, on_delete=models.PROTECT, related_name="subscriptions")
    # Denormalised from keyword so per-code questions need no join.
    short_code = models.ForeignKey(
        ShortCode, on_delete=models.PROTECT, related_name="subscriptions"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(default=timezone.now)
    last_occurred_at = models.DateTimeField(
        help_text="occurred_at of the last applied event; older events are stale."
    )
    last_source = models.CharField(max_length=10, choices=Source.choices)
    pending_since = models.DateTimeField(null=True, blank=True)
    opted_out_by_stop = models.ForeignKey(
        "ShortCodeStop",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
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
        ]
        indexes = [
            models.Index(fields=["short_code", "status"], name="sub_code_status_idx"),
            models.Index(fields=["contact", "short_code"], name="sub_contact_code_idx"),
            models.Index(fields=["keyword", "status"], name="sub_keyword_status_idx"),
            models.Index(fields=["changed_at"], name="sub_changed_idx"),
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
        raise PermissionError("Consent history is append-only: rows cannot be updated.")

    def delete(self):
        raise PermissionError("Consent history is append-only: rows cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise PermissionError("Consent history is append-only: rows cannot be updated.")

    def update_or_create(self, *args, **kwargs):
        raise PermissionError("Consent history is append-only: rows cannot be updated.")


class SubscriptionEvent(models.Model):
    """The append-only consent history. Never updated, never deleted."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="events")
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="events")
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
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
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
            models.Index(fields=["source", "external_id"], name="event_external_idx"),
        ]

    def __str__(self):
        return f"{self.action} {self.contact} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Consent history is append-only: rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Consent history is append-only: rows cannot be deleted.")

    def clean(self):
        if self.outcome == Outcome.APPLIED and self.keyword_id and not self.new_status:
            raise ValidationError("An applied program event needs its new status.")


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (permanent, or attempts exhausted)"
    LOCAL_ONLY = "local_only", "Local only (the provider cannot do this)"
    SUPERSEDED = "superseded", "Superseded by a later change"


class ProviderSync(models.Model):
    """The outbox: bring one provider account in line with the portal's current state for
    one (contact, short code). Delivery reconciles current state, so retries are idempotent.
    """

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="syncs")
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="syncs")
    provider = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="syncs")
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


class MessagePurpose(models.TextChoices):
    REPLY = "reply", "Reply to an inbound text"
    DOUBLE_OPT_IN = "double_opt_in", "Double opt-in prompt"
    CONFIRMATION = "confirmation", "Opt-in / opt-out confirmation"
    ONE_TIME_CODE = "one_time_code", "Preferences one-time code"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboundMessage(models.Model):
    """A text the portal asked a provider to send (replies, prompts, one-time codes)."""

    phone = models.CharField(max_length=20)
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="messages")
    provider = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="messages")
    purpose = models.CharField(max_length=20, choices=MessagePurpose.choices)
    text = models.TextField()
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


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key` header, replayed for 24 h
    to the same client sending the same key and body (shared by every web process)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the method, path and request body."
    )
    status_code = models.PositiveSmallIntegerField()
    # JSON text with every non-ASCII character escaped: an answer may echo client input,
    # and PostgreSQL's jsonb refuses NUL and lone surrogates that text keeps escaped.
    response_body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self):
        return f"{self.key} ({self.status_code})"


class RateLimitCounter(models.Model):
    """A rate-limit or throttle count (subscriptions/limits.py): `count` hits in a window
    that ends at `expires_at`. Used when there is no Redis; operational, not evidence:
    prune_logs deletes the rows whose window has ended."""

    key = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="ratelimit_expires_idx")]

    def __str__(self):
        return f"{self.key}: {self.count}"


class PostbackProblem(models.TextChoices):
    UNKNOWN_SHORT_CODE = "unknown_short_code", "Short code unknown to the portal"
    FOREIGN_SHORT_CODE = "foreign_short_code", "Short code not served by this account"
    REJECTED = "rejected", "Rejected as invalid (answered 400)"


class UnmatchedPostback(models.Model):
    """A provider postback that changed nothing: kept verbatim so staff can see what the
    provider said and fix the configuration (or the provider) behind it."""

    provider = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="unmatched_postbacks"
    )
    problem = models.CharField(max_length=20, choices=PostbackProblem.choices)
    reason = models.CharField(max_length=255)
    short_code = models.CharField(
        max_length=40, blank=True, help_text="The SHORTCODE the postback named, if any."
    )
    raw_payload = models.TextField(blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["provider", "-received_at"], name="unmatched_provider_idx")]

    def __str__(self):
        return f"{self.get_problem_display()}: {self.reason}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One CSV import (admin upload, API or management command) and its progress."""

    file = models.FileField(
        upload_to="imports/%Y/%m/",
        blank=True,
        help_text="The uploaded CSV; empty for command-line imports.",
    )
    file_name = models.CharField(max_length=255)
    dry_run = models.BooleanField(
        default=False, help_text="Report what would change; write nothing."
    )
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    processed = models.PositiveIntegerField(default=0)
    applied = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0, help_text="No change or stale.")
    errors = models.PositiveIntegerField(default=0, help_text="Rows rejected before the rules.")
    failure = models.TextField(blank=True, help_text="Why the whole import failed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"import {self.pk} {self.file_name} ({self.status})"

    @property
    def percent(self):
        if self.status == ImportStatus.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0


class ImportRowError(models.Model):
    """A CSV row rejected before the consent rules saw it (bad phone, unknown keyword...)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(help_text="Line number in the file (header is 1).")
    phone = models.CharField(max_length=64, blank=True)
    short_code = models.CharField(max_length=64, blank=True)
    keyword = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=255)

    class Meta:
        ordering = ["job", "line"]
        indexes = [models.Index(fields=["job", "line"], name="import_error_line_idx")]

    def __str__(self):
        return f"line {self.line}: {self.message}"


class ActivityDay(models.Model):
    """A closed day of the history already summed into DailyActivity for the dashboard.
    Such a day never changes: the history is append-only and events are recorded when they
    are written, so its sums are computed once instead of on every cold dashboard."""

    day = models.DateField(primary_key=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day"]

    def __str__(self):
        return f"activity of {self.day}"


class ActivitySeries(models.TextChoices):
    OPT_INS = "opt-ins", "opt-ins"
    OPT_OUTS = "opt-outs", "opt-outs"
    STOPS = "STOPs", "STOPs"


class DailyActivity(models.Model):
    """Applied events of one closed day per short code, program (none for code-wide STOPs)
    and series: derived from the history, never a record of consent itself."""

    day = models.ForeignKey(ActivityDay, on_delete=models.CASCADE, related_name="counts")
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="+")
    keyword = models.ForeignKey(
        Keyword, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    series = models.CharField(max_length=10, choices=ActivitySeries.choices)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["day", "short_code", "keyword", "series"]

    def __str__(self):
        return f"{self.day_id} {self.series}: {self.count}"
