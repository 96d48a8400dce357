"""Serializers of the configuration API: provider accounts, short codes and keywords."""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from subscriptions.api.serializers import (
    KEYWORD_PATTERN,
    MAX_WINDOW_HOURS,
    SHORT_CODE_PATTERN,
)
from subscriptions.models import (
    Keyword,
    ProviderAccount,
    ShortCode,
)
from subscriptions.providers import postback_tokens


def model_clean(serializer, attrs, **fixed):
    """Run the model's own validation (`clean`: the rules the admin and imports enforce too)
    on the instance the serializer would save, and answer its errors as a 400."""
    model = serializer.Meta.model
    instance = copy.copy(serializer.instance) if serializer.instance else model()
    for name, value in {**attrs, **fixed}.items():
        if name in {f.name for f in model._meta.concrete_fields} or name.endswith("_id"):
            setattr(instance, name, value)
    try:
        instance.clean()
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from exc
    return instance


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
        instance = model_clean(self, attrs)
        problems = instance.kind_settings.secrets_errors(attrs.get("secrets", {}))
        if problems:
            raise serializers.ValidationError({"secrets": problems})
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

    def validate(self, attrs):
        model_clean(self, attrs)
        return attrs

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

    def validate(self, attrs):
        model_clean(self, attrs, short_code=self.context["short_code"])
        return attrs

    def validate_word(self, word):
        word = word.upper()
        short_code = self.context["short_code"]
        taken = Keyword.objects.filter(short_code=short_code, word=word)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                f"{word} exists on short code {short_code.code}.", code="unique"
            )
        return word
