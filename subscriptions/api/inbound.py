"""POST /api/v1/inbound/: a text message from a handset (MO), relayed by an integration."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from subscriptions.api.idempotency import idempotent
from subscriptions.api.permissions import SUBMIT_INBOUND, requires
from subscriptions.api.schema import IDEMPOTENCY_KEY
from subscriptions.api.serializers import ExternalTimeField
from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.consent import selectors
from subscriptions.inbound import mo


class InboundTextSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=20, help_text="The short code texted.")
    text = serializers.CharField(max_length=1600, allow_blank=True, trim_whitespace=False)
    received_at = ExternalTimeField(required=False)
    message_id = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        help_text="The provider's id: a repeat applies once.",
    )

    def get_fields(self):
        # "from" is a Python keyword, so the field cannot be a class attribute.
        return {
            "from": serializers.CharField(max_length=32, help_text="The handset."),
            **super().get_fields(),
        }

    def validate_from(self, value):
        try:
            return normalize(value)
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ChangeSerializer(serializers.Serializer):
    keyword = serializers.CharField()
    status = serializers.CharField()


class InboundAnswerSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[a.value for a in mo.MoAction])
    reply = serializers.CharField(
        allow_null=True, help_text="The text sent back; null for a repeated message."
    )
    changed = ChangeSerializer(many=True)
    duplicate = serializers.BooleanField()


class InboundView(APIView):
    permission_classes = [requires(SUBMIT_INBOUND)]

    @extend_schema(
        request=InboundTextSerializer,
        responses=InboundAnswerSerializer,
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request):
        # The verbatim body is evidence; read it before DRF parses it.
        raw = request.body.decode("utf-8", errors="backslashreplace")
        serializer = InboundTextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        short_code = selectors.short_code_by_code(data["to"])  # kept per process
        if short_code is None:
            return Response(
                {
                    "detail": f"No short code {data['to']!r} in the portal.",
                    "code": "unknown_short_code",
                },
                status=status.HTTP_404_NOT_FOUND,
            )
        outcome = mo.handle_mo(
            mo.MoText(
                phone=data["from"],
                short_code=short_code,
                text=data["text"],
                message_id=data.get("message_id", ""),
                received_at=data.get("received_at"),
                raw_payload=raw,
            ),
            actor=request.user,
        )
        return Response(
            {
                "action": outcome.action,
                "reply": outcome.reply,
                "changed": [{"keyword": word, "status": new} for word, new in outcome.changed],
                "duplicate": outcome.duplicate,
            }
        )
