"""Revocations of consent by any reasonable means (FCC 24-24; docs/rules.md "Revocation").

Append-only like the consent history: a Revocation is written once, when it arrives, with
the person's words verbatim, and never updated; the staff decision on one under review is
a second append-only row (RevocationDecision, at most one per revocation). The current
status is therefore read, never stored: applied at receipt, or open until a decision makes
it applied (revoke) or dismissed (not a revocation). `revocations.selectors` annotates it.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from subscriptions.common.errors import AppendOnlyViolation
from subscriptions.models.catalog import Keyword, ShortCode
from subscriptions.models.consent import AppendOnlyQuerySet, Contact
from subscriptions.models.outbox import ProviderSync

REVIEW_NOT_APPLIED = "revocation_review_not_applied_at_receipt"


class RevocationChannel(models.TextChoices):
    SMS = "sms", "Text message"
    WEB = "web", "Web"
    PHONE_CALL = "phone_call", "Phone call"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"
    IN_PERSON = "in_person", "In person"
    CHAT = "chat", "Chat"
    OTHER = "other", "Other"
    # The portal's own opt-out paths, recorded as revocations by those paths themselves:
    API = "api", "Integration (API opt-out)"
    STAFF = "staff", "Staff action in the admin"


# What staff and integrations may name when they record a revocation (POST revocations/,
# admin "Record a revocation"): how the person said it. `api` and `staff` are the opt-out
# endpoints' and admin actions' own.
RECORDABLE_CHANNELS = tuple(
    c for c in RevocationChannel.values if c not in (RevocationChannel.API, RevocationChannel.STAFF)
)


class RevocationStatus(models.TextChoices):
    OPEN = "open", "Open (waiting for a decision; the number is paused)"
    APPLIED = "applied", "Applied"
    DISMISSED = "dismissed", "Dismissed (not a revocation)"


class RevocationVerdict(models.TextChoices):
    STOP = "stop", "Clear revocation"
    REVIEW = "review", "May be a revocation"
    RECORDED = "recorded", "Recorded by staff or an integration"


class RevocationDecisionKind(models.TextChoices):
    REVOKE = "revoke", "Revoke"
    NOT_A_REVOCATION = "not_a_revocation", "Not a revocation"


class Confirmation(models.TextChoices):
    """Who sends the one confirmation text of a revocation."""

    PORTAL = "portal", "The portal texted the short code's stop text"
    PROVIDER = "provider", "The provider texts its own STOP confirmation"
    NONE = "none", "None (nothing changed: the number was already stopped)"
    PENDING = "pending", "Not yet (waiting for a decision)"


class _AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.validate_new()
        super().save(*args, **kwargs)

    def validate_new(self):
        """The checks of a save: a new row only, valid (revocations/rows.py runs them
        before writing a new revocation with its related rows in one statement)."""
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyViolation("Revocations are append-only: rows cannot be updated.")
        self.full_clean(exclude=["short_codes", "keywords", "syncs", *self._held_relations()])

    def _held_relations(self):
        """Foreign keys given as saved instances (the service holds the contact it locked,
        the request its user): full_clean would read each row again to see it exists; the
        database's foreign key checks that on INSERT anyway."""
        held = []
        for field in self._meta.concrete_fields:
            if field.is_relation and field.is_cached(self):
                related = field.get_cached_value(self)
                if related is not None and related.pk is not None:
                    held.append(field.name)
        return held

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation("Revocations are append-only: rows cannot be deleted.")


class Revocation(_AppendOnly):
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="revocations")
    channel = models.CharField(max_length=12, choices=RevocationChannel.choices)
    text = models.TextField(help_text="The person's words, verbatim.")
    received_at = models.DateTimeField(help_text="When the person revoked (at the source).")
    recorded_at = models.DateTimeField(default=timezone.now)
    due_by = models.DateTimeField(help_text="received_at + 10 US business days.")
    short_codes = models.ManyToManyField(
        ShortCode, related_name="revocations", help_text="The scope: the codes it applies to."
    )
    keywords = models.ManyToManyField(
        Keyword,
        blank=True,
        related_name="revocations",
        help_text="A revocation of some programs only (one turned off): those programs. "
        "Empty: every program on its codes (a STOP).",
    )
    syncs = models.ManyToManyField(
        ProviderSync,
        blank=True,
        related_name="revocations",
        help_text="The provider deliveries it caused (at receipt, or at a revoke decision); "
        "added once, never removed.",
    )
    verdict = models.CharField(max_length=10, choices=RevocationVerdict.choices)
    matched = models.CharField(max_length=120, blank=True, help_text="What the classifier read.")
    applied_at = models.DateTimeField(
        null=True, blank=True, help_text="Applied at receipt; empty while it waits for staff."
    )
    confirmation = models.CharField(max_length=10, choices=Confirmation.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by_label = models.CharField(max_length=150, blank=True)
    external_id = models.CharField(max_length=200, blank=True, help_text="MO message id.")

    class Meta:
        ordering = ["-received_at", "-id"]
        permissions = [("decide_revocation", "Can decide revocations under review")]
        indexes = [
            models.Index(fields=["contact", "-received_at"], name="revocation_contact_idx"),
            models.Index(fields=["applied_at", "due_by"], name="revocation_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(verdict="review", applied_at__isnull=False),
                name=REVIEW_NOT_APPLIED,
            ),
        ]

    def __str__(self):
        return f"revocation {self.pk} by {self.contact} ({self.channel})"

    def clean(self):
        if not (self.text or "").strip():
            raise ValidationError({"text": "The person's words are required, verbatim."})
        if self.due_by and self.received_at and self.due_by < self.received_at:
            raise ValidationError({"due_by": "due_by cannot precede received_at."})

    def validate_constraints(self, exclude=None):
        """REVIEW_NOT_APPLIED read from the row itself: Django would ask the database (a
        savepoint and a query on every save) what the row's own two fields say. The database
        still enforces it on INSERT; any other constraint is validated the usual way."""
        if self.verdict == RevocationVerdict.REVIEW and self.applied_at is not None:
            raise ValidationError(
                {"applied_at": "A revocation under review is not applied at receipt."},
                code=REVIEW_NOT_APPLIED,
            )
        for constraint in self._meta.constraints:
            if constraint.name != REVIEW_NOT_APPLIED:
                constraint.validate(type(self), self, exclude=exclude)


class RevocationDecision(_AppendOnly):
    """Staff's decision on a revocation under review; one per revocation, never changed."""

    revocation = models.OneToOneField(Revocation, on_delete=models.PROTECT, related_name="decision")
    decision = models.CharField(max_length=20, choices=RevocationDecisionKind.choices)
    reason = models.TextField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(default=timezone.now)
    confirmation = models.CharField(max_length=10, choices=Confirmation.choices)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self):
        return f"{self.decision} on revocation {self.revocation_id}"

    def clean(self):
        if not (self.reason or "").strip():
            raise ValidationError({"reason": "A decision needs a reason."})


class RevocationInStep(_AppendOnly):
    """The moment every provider delivery a revocation caused was acknowledged (or found
    unable to be told: local only), written once by `revocations.measure` when the last of
    them settles. Its absence means: not yet in step."""

    revocation = models.OneToOneField(Revocation, on_delete=models.PROTECT, related_name="in_step")
    in_step_at = models.DateTimeField(default=timezone.now)
    syncs = models.PositiveIntegerField(help_text="Provider deliveries it waited for.")
    local_only = models.PositiveIntegerField(
        default=0, help_text="Of those, the ones the provider could not be told."
    )

    class Meta:
        ordering = ["-in_step_at", "-id"]

    def __str__(self):
        return f"revocation {self.revocation_id} in step at {self.in_step_at}"
