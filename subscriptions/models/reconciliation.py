"""Reconciliation with the providers (issue "Provider truth"; docs/api.md "Reconciliation
with providers"): a run against one provider account, the batches it finished (so that a
run that died resumes after them) and the drift it found."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from subscriptions.models.catalog import Keyword, ProviderAccount, ShortCode
from subscriptions.models.consent import Contact


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Held(models.TextChoices):
    """What one side holds for a number and a program."""

    IN = "in", "in"
    OUT = "out", "out"
    UNKNOWN = "unknown", "unknown"


class DriftAction(models.TextChoices):
    OPT_OUT_SENT = "opt_out_sent", "Opt-out sent again"
    REPORTED = "reported", "Reported to staff (never an automatic opt-in)"


class Reconciliation(models.Model):
    provider = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="reconciliations"
    )
    short_code = models.ForeignKey(
        ShortCode,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconciliations",
        help_text="Only this code of the account; empty = every code it serves.",
    )
    dry_run = models.BooleanField(default=False, help_text="Reports, sends nothing.")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    checked = models.PositiveIntegerField(default=0, help_text="Numbers checked.")
    in_step = models.PositiveIntegerField(default=0, help_text="Numbers without any drift.")
    drift = models.PositiveIntegerField(default=0, help_text="Drift rows (number x program).")
    provider_calls = models.PositiveIntegerField(default=0)
    requested_by = models.CharField(max_length=150, blank=True)
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A worker's lease on a running run; once it has run out (the worker died) "
        "the sweeper queues the run again and it resumes after its finished batches.",
    )

    class Meta:
        ordering = ["-id"]
        permissions = [("reconcile_providers", "Can start a reconciliation with a provider")]
        indexes = [models.Index(fields=["provider", "-created_at"], name="recon_provider_idx")]

    def __str__(self):
        return f"reconciliation #{self.pk} of {self.provider.name}: {self.status}"


class ReconciliationBatch(models.Model):
    """A batch of numbers a run has finished: read, compared and recorded in one
    transaction. A run that resumes skips the contacts of its finished batches."""

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="batches"
    )
    first_contact_id = models.BigIntegerField()
    last_contact_id = models.BigIntegerField()
    checked = models.PositiveIntegerField()
    finished_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(first_contact_id__lte=models.F("last_contact_id")),
                name="recon_batch_range_valid",
            )
        ]

    def __str__(self):
        return f"batch {self.first_contact_id}..{self.last_contact_id} of #{self.reconciliation_id}"


class Drift(models.Model):
    """One number and program where the provider and the portal disagree (or, for a provider
    without a read API, an opt-out sent again because the provider may hold it)."""

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="drift_rows"
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="+")
    keyword = models.ForeignKey(
        Keyword, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    portal = models.CharField(max_length=10, choices=Held.choices)
    provider = models.CharField(max_length=10, choices=Held.choices)
    action = models.CharField(max_length=15, choices=DriftAction.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = "drift row"
        verbose_name_plural = "drift found"  # the admin's menu: not "Drifts"
        indexes = [
            models.Index(fields=["reconciliation", "id"], name="drift_run_idx"),
            models.Index(fields=["action", "-created_at"], name="drift_action_idx"),
        ]

    def __str__(self):
        what = self.keyword or self.short_code
        return f"{self.contact} {what}: portal {self.portal}, provider {self.provider}"
