"""Configuration: provider accounts, short codes and keywords, with their validators."""

import re
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from subscriptions.common import crypto
from subscriptions.common.templates import render_reply, validate_reply_template
from subscriptions.consent.rules import keywords
from subscriptions.models.choices import KeywordKind, ProviderKind
from subscriptions.providers import kinds


def contrast_on_black(color: str) -> float:
    """WCAG 2 contrast ratio of black text on `color` (#rrggbb); white's is 21 / (this)."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return (luminance + 0.05) / 0.05


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

    @property
    def kind_settings(self):
        return kinds.for_kind(self.kind)

    def clean(self):
        problems = self.kind_settings.settings_errors(self.settings or {}, active=self.is_active)
        if problems:
            raise ValidationError({"settings": problems})

    def set_secrets(self, values):
        """Replace the stored secrets; empty values keep what was stored before. A name the
        kind does not use is refused (ValidationError), so a typo cannot hide a secret."""
        problems = self.kind_settings.secrets_errors(values)
        if problems:
            raise ValidationError({"secrets": problems})
        merged = {**self.secrets, **{k: v for k, v in values.items() if v not in (None, "")}}
        self.secrets_encrypted = crypto.encrypt_json(merged)


# The reply texts a short code sends, all str.format templates (common/templates.py).
REPLY_TEMPLATE_FIELDS = (
    "help_text",
    "stop_text",
    "opt_out_text",
    "opt_in_text",
    "double_opt_in_prompt",
    "confirm_expired_text",
)


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


# Words that must never be read as a revocation: they mean START, a confirmation or HELP.
NOT_REVOCATIONS = keywords.START_WORDS | keywords.YES_WORDS | keywords.HELP_WORDS


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
    opt_out_text = models.TextField(
        default="{brand}: you are unsubscribed from {program}.",
        help_text="The confirmation of a revocation of some programs only (one turned off "
        "on the preferences page, an opt-out of one program): no marketing.",
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
    # Branding of the preferences page (validated in clean: https links, a #rrggbb colour).
    logo_url = models.URLField(blank=True, help_text="https address of the brand's logo.")
    brand_color = models.CharField(
        max_length=7, blank=True, help_text="The brand's colour as #rrggbb, e.g. #0b5cad."
    )
    privacy_url = models.URLField(blank=True, help_text="https address of the privacy policy.")
    terms_url = models.URLField(blank=True, help_text="https address of the SMS terms.")
    support_url = models.URLField(blank=True, help_text="https address where people get help.")
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

    def render(self, template: str, program: str = "") -> str:
        """Render one of this code's reply templates; never raises (common/templates.py)."""
        field = next((f for f in REPLY_TEMPLATE_FIELDS if getattr(self, f) == template), None)
        fallback = self._meta.get_field(field).default if field else "{brand}"
        values = {"brand": self.brand, "program": program, "code": self.code}
        return render_reply(template, fallback, values)

    BRAND_LINKS = ("logo_url", "privacy_url", "terms_url", "support_url")

    @property
    def brand_colors(self) -> tuple[str, str] | None:
        """(brand colour, black or white text: whichever reads better on it), or None when
        no valid colour is set (only a checked #rrggbb ever reaches a style sheet)."""
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.brand_color or ""):
            return None
        ink = "#000000" if contrast_on_black(self.brand_color) >= 4.5 else "#ffffff"
        return self.brand_color, ink

    def clean(self):
        errors = {}
        for name in REPLY_TEMPLATE_FIELDS:
            try:
                validate_reply_template(getattr(self, name))
            except ValidationError as exc:
                errors[name] = exc.messages
        for name in self.BRAND_LINKS:
            value = getattr(self, name)
            if value and not value.lower().startswith("https://"):
                errors[name] = ["Use an https:// address (the page is served over https)."]
        if self.brand_color and not re.fullmatch(r"#[0-9a-fA-F]{6}", self.brand_color):
            errors["brand_color"] = ["Write the colour as #rrggbb, e.g. #0b5cad."]
        if errors:
            raise ValidationError(errors)


class Keyword(models.Model):
    short_code = models.ForeignKey(ShortCode, on_delete=models.PROTECT, related_name="keywords")
    word = models.CharField(max_length=40, help_text="Matched case-insensitively.")
    kind = models.CharField(max_length=10, choices=KeywordKind.choices, default=KeywordKind.PROGRAM)
    title = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    frequency = models.CharField(
        max_length=120,
        blank=True,
        help_text="How often it texts, e.g. 'Up to 4 msgs/month'. Shown in the opt-in wording; "
        "empty: 'Message frequency varies.'",
    )
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
        errors = {}
        reserved = keywords.reserved_word_problem(self.word, self.kind)
        if reserved:
            errors["word"] = reserved
        if self._moves_subscribers():
            errors["short_code"] = (
                "This keyword has subscribers on its short code; it cannot move to another "
                "code (a STOP on the new code would miss them). Create a keyword there instead."
            )
        if errors:
            raise ValidationError(errors)

    def _moves_subscribers(self):
        if self.pk is None:
            return False
        stored = Keyword.objects.filter(pk=self.pk).values_list("short_code_id", flat=True)
        moved = stored.first() not in (None, self.short_code_id)
        return moved and self.subscriptions.exists()

    @property
    def account(self):
        return self.provider if self.provider_id else self.short_code.provider

    @property
    def account_id(self):
        return self.provider_id or self.short_code.provider_id

    @property
    def display_title(self):
        return self.title or self.word
