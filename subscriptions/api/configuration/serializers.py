"""Serializers of the configuration API: provider accounts, short codes and keywords."""

import string

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from subscriptions.api.serializers import (
    KEYWORD_PATTERN,
    MAX_WINDOW_HOURS,
    SHORT_CODE_PATTERN,
)
from subscriptions.consent import rules
from subscriptions.models import (
    Keyword,
    ProviderAccount,
    ProviderKind,
    ShortCode,
)
from subscriptions.providers import postback_tokens

# What each provider kind may carry (docs/api.md "Provider account settings").
KIND_SETTINGS = {
    ProviderKind.CONSOLE: ((), ()),
    ProviderKind.SFMC: (
        ("auth_base_url", "rest_base_url", "account_id"),
        ("client_id", "client_secret"),
    ),
    ProviderKind.WHATCOUNTS: (("base_url", "realm"), ("password",)),
    ProviderKind.SKYCORE: (("api_url",), ("api_key",)),
}
POSTBACK_PATHS = postback_tokens.POSTBACK_PATHS
TEMPLATE_FIELDS = {"brand", "program", "code"}


def _check_template(value):
    """Reply texts are str.format templates; an unknown {name} would fail when sent."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise serializers.ValidationError(f"Not a valid template: {exc}.") from exc
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise serializers.ValidationError(
            f"Unknown placeholder(s) {sorted(unknown)}; use {sorted(TEMPLATE_FIELDS)}."
        )
    return value


# Provider accounts ------------------------------------------------------------------------


class ProviderAccountSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100)
    settings = serializers.DictField(
        child=serializers.CharField(max_length=500, allow_blank=True),
        required=False,
        help_text="Non-secret settings of the kind, e.g. base URLs (docs/api.md).",
    )
    secrets = serializers.DictField(
        child=serializers.CharField(max_length=500, allow_blank=True),
        write_only=True,
        required=False,
        help_text="Write-only; empty values keep what is stored.",
    )
    postback_url = serializers.SerializerMethodField(
        help_text="Where the provider posts status changes (SkyCore); null for kinds "
        "without postbacks, and for tokens without change_provideraccount (the URL holds "
        "the secret that authenticates postbacks)."
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            "name",
            "kind",
            "settings",
            "secrets",
            "is_active",
            "postback_url",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_postback_url(self, account):
        request = self.context["request"]
        if not postback_tokens.may_see(request.user):
            return None
        return postback_tokens.postback_url(account, request)

    def validate_name(self, name):
        taken = ProviderAccount.objects.filter(name=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                "A provider account with this name exists.", code="unique"
            )
        return name

    def validate(self, attrs):
        kind = attrs.get("kind", self.instance.kind if self.instance else ProviderKind.CONSOLE)
        allowed_settings, allowed_secrets = KIND_SETTINGS[kind]
        settings = attrs.get("settings", self.instance.settings if self.instance else {})
        errors = {}
        for field, given, allowed in (
            ("settings", settings, allowed_settings),
            ("secrets", attrs.get("secrets", {}), allowed_secrets),
        ):
            unknown = sorted(set(given) - set(allowed))
            if unknown:
                errors[field] = [
                    f"Not used by {kind} accounts: {', '.join(unknown)}. "
                    f"Allowed: {', '.join(allowed) or 'none'}."
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data):
        secrets = validated_data.pop("secrets", {})
        account = ProviderAccount(**validated_data)
        account.set_secrets(secrets)
        account.save()
        return account

    def update(self, account, validated_data):
        secrets = validated_data.pop("secrets", None)
        for name, value in validated_data.items():
            setattr(account, name, value)
        if secrets:
            account.set_secrets(secrets)
        account.save()
        return account


# Short codes and keywords -----------------------------------------------------------------


class ShortCodeSerializer(serializers.ModelSerializer):
    code = serializers.RegexField(
        SHORT_CODE_PATTERN, max_length=16, help_text="The short code or long number, e.g. 12345."
    )
    double_opt_in_window_hours = serializers.IntegerField(
        min_value=1, max_value=MAX_WINDOW_HOURS, required=False
    )

    class Meta:
        model = ShortCode
        fields = [
            "code",
            "name",
            "brand",
            "provider",
            "double_opt_in_window_hours",
            "help_text",
            "stop_text",
            "opt_in_text",
            "double_opt_in_prompt",
            "stop_blocks_imports",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            name: {"validators": [_check_template]}
            for name in ("help_text", "stop_text", "opt_in_text", "double_opt_in_prompt")
        }

    def validate_code(self, code):
        taken = ShortCode.objects.filter(code=code)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(f"Short code {code} exists.", code="unique")
        return code


class KeywordSerializer(serializers.ModelSerializer):
    word = serializers.RegexField(
        KEYWORD_PATTERN, help_text="Matched case-insensitively; stored upper-case."
    )
    short_code = serializers.CharField(source="short_code.code", read_only=True)

    class Meta:
        model = Keyword
        fields = [
            "word",
            "short_code",
            "kind",
            "title",
            "description",
            "provider_ref",
            "double_opt_in",
            "is_public",
            "provider",
            "discovered",
            "created_at",
        ]
        read_only_fields = ["discovered", "created_at"]

    def validate_word(self, word):
        word = word.upper()
        if word in rules.STOP_WORDS:
            raise serializers.ValidationError(
                f"{word} is a carrier STOP word; handsets sending it always stop everything."
            )
        short_code = self.context["short_code"]
        taken = Keyword.objects.filter(short_code=short_code, word=word)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                f"{word} exists on short code {short_code.code}.", code="unique"
            )
        return word
