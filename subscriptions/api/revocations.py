"""revocations/: record a revocation from any channel, the review queue and the record of
revocations, and staff's decision (docs/api.md "Revocation by any reasonable means")."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from subscriptions.api.idempotency import idempotent
from subscriptions.api.permissions import CHANGE_CONSENT, requires
from subscriptions.api.schema import ERROR, IDEMPOTENCY_KEY
from subscriptions.api.serializers import PhoneField, ShortCodeField
from subscriptions.api.views import (
    Conflict,
    JsonApi,
    NewestFirst,
    api_context,
    checked_lookup,
    validated,
)
from subscriptions.consent.context import ServiceError
from subscriptions.models import (
    Revocation,
    RevocationChannel,
    RevocationDecisionKind,
    RevocationStatus,
    ShortCode,
)
from subscriptions.models.revocations import RECORDABLE_CHANNELS
from subscriptions.revocations import selectors
from subscriptions.revocations import services as revocations

DECIDE_REVOCATION = "subscriptions.decide_revocation"
VIEW_REVOCATION = "subscriptions.view_revocation"


class RecordSerializer(serializers.Serializer):
    phone = PhoneField()
    channel = serializers.ChoiceField(
        choices=[(v, label) for v, label in RevocationChannel.choices if v in RECORDABLE_CHANNELS]
    )
    text = serializers.CharField(
        max_length=5000, trim_whitespace=False, help_text="The person's words, verbatim."
    )
    received_at = serializers.DateTimeField(required=False)
    short_code = ShortCodeField(required=False)
    brand = serializers.CharField(max_length=100, required=False)

    def validate_text(self, value):
        if not value.strip():
            raise serializers.ValidationError("The person's words are required, verbatim.")
        return value

    def validate(self, attrs):
        brand = attrs.get("brand")
        if brand and not ShortCode.objects.filter(brand=brand).exists():
            raise serializers.ValidationError({"brand": f"No short code of brand {brand!r}."})
        if brand and attrs.get("short_code"):
            raise serializers.ValidationError("Name a short_code or a brand, not both.")
        return attrs


class RevocationChangeSerializer(serializers.Serializer):
    short_code = serializers.CharField()
    keyword = serializers.CharField()
    status = serializers.CharField()


class RevocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    phone = serializers.CharField(source="contact.phone")
    channel = serializers.CharField()
    text = serializers.CharField()
    status = serializers.SerializerMethodField()
    received_at = serializers.DateTimeField()
    due_by = serializers.DateTimeField()
    applied_at = serializers.SerializerMethodField()
    in_step_at = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()
    programs = serializers.SerializerMethodField()
    verdict = serializers.CharField()
    confirmation = serializers.CharField()
    recorded_by = serializers.CharField(source="recorded_by_label")
    decision = serializers.SerializerMethodField()

    def get_status(self, revocation) -> str:
        return selectors.status_of(revocation)

    def get_applied_at(self, revocation) -> str | None:
        applied = selectors.applied_at_of(revocation)
        return serializers.DateTimeField().to_representation(applied) if applied else None

    def get_in_step_at(self, revocation) -> str | None:
        at = selectors.in_step_at_of(revocation)
        return serializers.DateTimeField().to_representation(at) if at else None

    def get_scope(self, revocation) -> list[str]:
        return sorted(code.code for code in revocation.short_codes.all())

    def get_programs(self, revocation) -> list[str]:
        """The programs of a revocation of some programs only; empty: all on its codes."""
        return sorted(keyword.word for keyword in revocation.keywords.all())

    def get_decision(self, revocation) -> dict | None:
        if not selectors.has_decision(revocation):
            return None
        decision = revocation.decision
        return {
            "decision": decision.decision,
            "reason": decision.reason,
            "decided_by": decision.decided_by_label,
            "decided_at": serializers.DateTimeField().to_representation(decision.decided_at),
        }


class RecordedSerializer(RevocationSerializer):
    changed = RevocationChangeSerializer(many=True)


class QuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RevocationStatus.choices, required=False)
    overdue = serializers.BooleanField(required=False, default=False)
    phone = PhoneField(required=False)


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=RevocationDecisionKind.choices)
    reason = serializers.CharField(max_length=2000)


def _changes(applied):
    return [
        {"short_code": e.short_code.code, "keyword": e.keyword.word, "status": e.new_status}
        for e in applied.changed
    ]


def _fresh(revocation_id):
    return selectors.annotated().get(pk=revocation_id)


class RevocationListView(JsonApi, ListAPIView):
    """GET: the review queue and the record of revocations, newest first. POST: record a
    revocation made through any channel; applied at once to its scope (a code, a brand, or
    every code the number is known on)."""

    serializer_class = RevocationSerializer
    pagination_class = NewestFirst

    def get_permissions(self):
        perm = VIEW_REVOCATION if self.request.method == "GET" else CHANGE_CONSENT
        return [requires(perm)()]

    def get_queryset(self):
        filters = validated(QuerySerializer, self.request.query_params)
        return selectors.revocations(**filters)

    @extend_schema(parameters=[QuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=RecordSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: RecordedSerializer, 422: ERROR},
    )
    @idempotent
    def post(self, request):
        data = validated(RecordSerializer, request.data)
        ctx = api_context(request, reason=f"revocation by {data['channel']}")
        try:
            applied = revocations.record_revocation(
                data["phone"],
                channel=data["channel"],
                text=data["text"],
                ctx=ctx,
                received_at=data.get("received_at"),
                short_code=data.get("short_code"),
                brand=data.get("brand"),
            )
        except ServiceError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        body = RevocationSerializer(_fresh(applied.revocation.pk)).data
        return Response({**body, "changed": _changes(applied)}, status=status.HTTP_201_CREATED)


class RevocationDecideView(JsonApi, APIView):
    """Staff decide a revocation under review: revoke (the STOP applies to its scope now)
    or not a revocation (the pause lifts). Permission subscriptions.decide_revocation."""

    permission_classes = [requires(DECIDE_REVOCATION)]

    @extend_schema(
        request=DecideSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: RevocationSerializer, 404: ERROR, 409: ERROR, 422: ERROR},
    )
    @idempotent
    def post(self, request, pk):
        revocation = get_object_or_404(Revocation, pk=checked_lookup(pk, r"\d{1,18}", "revocation"))
        data = validated(DecideSerializer, request.data)
        try:
            revocations.decide(revocation.pk, data["decision"], data["reason"], actor=request.user)
        except ServiceError as exc:
            raise Conflict(str(exc)) from exc
        return Response(RevocationSerializer(_fresh(revocation.pk)).data)
