"""Operational records: idempotency keys, rate limits, unmatched postbacks, imports, roll-ups."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from subscriptions.models.catalog import Keyword, ProviderAccount, ShortCode
from subscriptions.models.choices import ActivitySeries, ImportStatus, PostbackProblem


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
    """A rate-limit or throttle count (common/limits.py): `count` hits in a window
    that ends at `expires_at`. Used when there is no Redis; operational, not evidence:
    prune_logs deletes the rows whose window has ended."""

    key = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="ratelimit_expires_idx")]

    def __str__(self):
        return f"{self.key}: {self.count}"


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
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        # Also: a set-based import whose heartbeat is older than PORTAL_IMPORT_LEASE_SECONDS
        # may be resumed by another worker (imports/setbased.py).
        help_text="Last sign of life of the worker running it (each chunk); the sweeper "
        "marks a running import without one for PORTAL_IMPORT_STALL_SECONDS failed.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    cursor = models.PositiveBigIntegerField(
        default=0,
        editable=False,
        help_text="Data rows of the file committed so far by every writer (set-based "
        "imports): a restarted import skips these and goes on from the next chunk.",
    )
    part_cursors = models.JSONField(
        default=list,
        editable=False,
        help_text="Per writer of a set-based import (numbers split by a hash of the phone): "
        "data rows of the file whose rows of that writer are committed. Fixed when the "
        "import starts, so a resumed import routes every row to the writer it had.",
    )

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
