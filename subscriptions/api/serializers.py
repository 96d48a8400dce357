"""Input and output shapes of the integration API (docs/api.md).

Input serializers only parse and check what a client sent (phones to E.164, short codes and
keywords to their rows); views hand the result to services or selectors. Anything that
reaches the database is checked first, so bad input is a 400 and never a database error.
"""

import json

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from subscriptions.common import times
from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.consent import selectors
from subscriptions.models import (
    Keyword,
    OutboundMessage,
    ProviderSync,
    Source,
    Status,
    SubscriptionEvent,
)

BATCH_LIMIT = 10_000
SEED_PHONE = "15555551212"
SEED_E164 = "+15555551212"
SEED_CODE = "12345"
SHORT_CODE_PATTERN = r"^\+?[0-9]{3,15}$"
KEYWORD_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
MAX_WINDOW_HOURS = 24 * 365


# Fields -----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "example": SEED_PHONE,
        "description": "E.164, digits with country code, or national format.",
    }
)
class PhoneField(serializers.CharField):
    """A phone number in any accepted format, validated to E.164."""

    def __init__(self, **kwargs):
        super().__init__(max_length=32, **kwargs)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        try:
            return normalize(value)
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc), code="invalid_phone") from exc


class ExternalTimeField(serializers.DateTimeField):
    """A time sent by a client: ISO 8601, converted to UTC and inside the range of
    `common.times` (not before 2000, not more than a few minutes into the future)."""

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601")
        try:
            return times.parse(value)
        except times.BadTime as exc:
            raise serializers.ValidationError(str(exc), code="invalid_time") from None


@extend_schema_field({"type": "string", "example": SEED_CODE})
class ShortCodeField(serializers.CharField):
    """A short code named by its code string, resolved to the row."""

    def __init__(self, **kwargs):
        super().__init__(max_length=20, **kwargs)

    def run_validation(self, data=serializers.empty):
        code = super().run_validation(data)
        short_code = selectors.short_code_by_code(code)
        if short_code is None:
            raise serializers.ValidationError(
                f"Unknown short code {code!r}.", code="unknown_short_code"
            )
        return short_code

    def to_representation(self, value):
        return value.code


def program_on(short_code, word):
    """The program keyword `word` on `short_code`, or a 400 naming the keyword field."""
    try:
        return selectors.program(short_code, word)
    except Keyword.DoesNotExist:
        raise serializers.ValidationError(
            {"keyword": [f"No program keyword {word.upper()!r} on short code {short_code.code}."]},
            code="unknown_keyword",
        ) from None


# Contacts ---------------------------------------------------------------------------------


class PhonePathSerializer(serializers.Serializer):
    phone = PhoneField()


class ContactSubscriptionSerializer(serializers.Serializer):
    short_code = serializers.CharField(source="short_code.code")
    keyword = serializers.CharField(source="keyword.word")
    status = serializers.ChoiceField(choices=Status.choices)
    changed_at = serializers.DateTimeField()
    source = serializers.ChoiceField(source="last_source", choices=Source.choices)


class ContactStopSerializer(serializers.Serializer):
    short_code = serializers.CharField(source="short_code.code")
    since = serializers.DateTimeField(source="created_at")


class ContactSerializer(serializers.Serializer):
    phone = serializers.CharField()
    subscriptions = ContactSubscriptionSerializer(many=True)
    stops = ContactStopSerializer(many=True)


# Consent changes --------------------------------------------------------------------------


class OptInSerializer(serializers.Serializer):
    phone = PhoneField()
    short_code = ShortCodeField()
    keyword = serializers.CharField(max_length=40, help_text="A program keyword, e.g. JOIN.")
    consent_text = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="The consent language the person agreed to; kept in the history.",
    )
    occurred_at = ExternalTimeField(
        required=False, help_text="When consent was given; defaults to now."
    )

    def validate_consent_text(self, value):
        # A deployment may insist that every API opt-in carries the wording the person saw.
        if settings.PORTAL_REQUIRE_CONSENT_TEXT and not value.strip():
            raise serializers.ValidationError(
                "The consent wording the person agreed to is required.", code="required"
            )
        return value

    def validate(self, attrs):
        attrs["keyword"] = program_on(attrs["short_code"], attrs["keyword"])
        return attrs


class OptOutSerializer(serializers.Serializer):
    phone = PhoneField()
    short_code = ShortCodeField()
    keyword = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="Leave out to opt out of every program on the code (like STOP).",
    )

    def validate(self, attrs):
        word = attrs.pop("keyword", "")
        attrs["keyword"] = program_on(attrs["short_code"], word) if word else None
        return attrs


class OptInResultSerializer(serializers.Serializer):
    phone = serializers.CharField()
    short_code = serializers.CharField()
    keyword = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)


class ChangedSerializer(serializers.Serializer):
    keyword = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)


class OptOutResultSerializer(serializers.Serializer):
    phone = serializers.CharField()
    short_code = serializers.CharField()
    changed = ChangedSerializer(many=True)


# Sendable ---------------------------------------------------------------------------------

SENDABLE_REASONS = ["opted_in", "opted_out", "pending", "stopped", "review", "no_subscription"]


class SendableQuerySerializer(serializers.Serializer):
    phone = PhoneField()
    short_code = ShortCodeField()
    keyword = serializers.CharField(max_length=40, required=False, allow_blank=True)

    def validate(self, attrs):
        word = attrs.pop("keyword", "")
        attrs["keyword"] = program_on(attrs["short_code"], word) if word else None
        return attrs


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "example": SEED_PHONE},
        "minItems": 1,
        "maxItems": BATCH_LIMIT,
    }
)
class PhoneListField(serializers.Field):
    """Up to BATCH_LIMIT numbers as given (strings, or digits as JSON numbers), unparsed: the
    selector parses each once and answers a bad one per item. A plain loop, not a ListField
    of CharFields, whose per-item validation would cost more than the answer."""

    default_error_messages = {
        "not_a_list": "Expected a list of phone numbers.",
        "empty": "This list may not be empty.",
        "max_length": f"Ensure this field has no more than {BATCH_LIMIT} elements.",
        "item": "Item {index}: a phone number must be a string.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > BATCH_LIMIT:
            self.fail("max_length")
        for index, item in enumerate(data):
            if not isinstance(item, str):
                if isinstance(item, bool) or not isinstance(item, int):
                    self.fail("item", index=index)
                data[index] = str(item)
        return data

    def to_representation(self, value):
        return value


class SendableBatchSerializer(SendableQuerySerializer):
    phone = None
    phones = PhoneListField(
        help_text=f"Up to {BATCH_LIMIT:,} numbers in any accepted format; the view parses "
        "them once, in the selector. A number that does not parse is answered on its own "
        '(`sendable: false, reason: "invalid"`), the rest as usual.',
    )


class SendableSerializer(serializers.Serializer):
    phone = serializers.CharField()
    short_code = serializers.CharField()
    keyword = serializers.CharField(allow_null=True)
    sendable = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=SENDABLE_REASONS)


class SendableBatchItemSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="E.164, or the text as given when it is invalid.")
    sendable = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=[*SENDABLE_REASONS, "invalid"])


class SendableBatchResultSerializer(serializers.Serializer):
    results = SendableBatchItemSerializer(many=True)


def sendable_batch_json(answers) -> bytes:
    """The body SendableBatchResultSerializer describes, written out directly: ten thousand
    items through DRF fields, or even as dicts through json.dumps, cost more than finding
    their answers. A parsed number is E.164 (a plus and digits: nothing to escape); the text
    of one that did not parse goes through json.dumps (ASCII-escaped, so no text a client
    sent can break the encoding)."""
    tails = {}  # one per distinct (sendable, reason)
    items = []
    for phone, _code, _keyword, sendable, reason in answers:
        if (tail := tails.get((sendable, reason))) is None:
            flag = "true" if sendable else "false"
            tail = tails[sendable, reason] = f',"sendable":{flag},"reason":"{reason}"}}'
        quoted = json.dumps(phone) if reason == selectors.INVALID else f'"{phone}"'
        items.append(f'{{"phone":{quoted}{tail}')
    return f'{{"results":[{",".join(items)}]}}'.encode()


# History, syncs, outbox -------------------------------------------------------------------


class EventQuerySerializer(serializers.Serializer):
    phone = PhoneField(required=False)
    short_code = serializers.CharField(max_length=20, required=False)
    keyword = serializers.CharField(max_length=40, required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    since = serializers.DateTimeField(
        required=False, help_text="Only events recorded at or after this time."
    )


class EventSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="contact.phone")
    short_code = serializers.CharField(source="short_code.code")
    keyword = serializers.CharField(source="keyword.word", allow_null=True, default=None)

    class Meta:
        model = SubscriptionEvent
        fields = [
            "id",
            "phone",
            "short_code",
            "keyword",
            "action",
            "old_status",
            "new_status",
            "source",
            "occurred_at",
            "recorded_at",
            "outcome",
            "reason",
            "actor_label",
        ]


class SyncQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=ProviderSync._meta.get_field("status").choices, required=False
    )
    provider = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Provider account id."
    )


class SyncSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="contact.phone")
    short_code = serializers.CharField(source="short_code.code")

    class Meta:
        model = ProviderSync
        fields = [
            "id",
            "phone",
            "short_code",
            "provider",
            "operation",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "detail",
            "created_at",
            "updated_at",
        ]


class OutboxQuerySerializer(serializers.Serializer):
    phone = PhoneField(required=False)
    limit = serializers.IntegerField(
        min_value=1, max_value=1000, default=100, help_text="Newest texts first; at most this many."
    )


class OutboxSerializer(serializers.ModelSerializer):
    short_code = serializers.CharField(source="short_code.code")

    class Meta:
        model = OutboundMessage
        fields = ["id", "phone", "short_code", "text", "purpose", "status", "created_at", "sent_at"]
