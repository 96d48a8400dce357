"""Configuration: provider accounts, short codes and keywords, with their validators."""

import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from subscriptions.common import crypto
from subscriptions.models.choices import KeywordKind, ProviderKind


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


MAX_PHRASES = 50
MAX_PHRASE_WORDS = 6
MAX_PHRASE_LENGTH = 80


def validate_revocation_phrases(value):
    """One phrase a line; each with a letter in it, short, and not a HELP or START word
    (which would make those keywords stop the person instead)."""
    lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
    if len(lines) > MAX_PHRASES:
        raise ValidationError(f"At most {MAX_PHRASES} phrases.")
    for line in lines:
        words = line.split()
        if len(line) > MAX_PHRASE_LENGTH or len(words) > MAX_PHRASE_WORDS:
            raise ValidationError(
                f"{line[:40]!r}: at most {MAX_PHRASE_WORDS} words and {MAX_PHRASE_LENGTH} "
                "characters a phrase."
            )
        if not any(c.isalpha() for c in line):
            raise ValidationError(f"{line!r}: a phrase needs words.")
        if line.upper() in NOT_REVOCATIONS:
            raise ValidationError(f"{line!r} means something else on every code.")


# Words that must never be read as a revocation (kept in step with consent.rules.keywords).
NOT_REVOCATIONS = frozenset({"START", "UNSTOP", "YES", "Y", "HELP", "INFO"})


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
    revocation_phrases = models.TextField(
        blank=True,
        validators=[validate_revocation_phrases],
        help_text='The brand\'s own words for "stop texting me", one phrase a line (up to '
        f"{MAX_PHRASE_WORDS} words each): a text containing one is a revocation on this code, "
        "besides the built-in English and Spanish words.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} ({self.brand})"

    def render(self, template, program=""):
        return template.format_map({"brand": self.brand, "program": program, "code": self.code})


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
