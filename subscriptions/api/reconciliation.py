"""POST providers/{id}/reconcile/, GET reconciliations/{id}/, GET reconciliations/{id}/drift/
(docs/api.md "Reconciliation with providers"). Thin: the run is the reconciliation
package's, on the bulk queue."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from subscriptions.api.idempotency import idempotent
from subscriptions.api.permissions import requires
from subscriptions.api.schema import ERROR, IDEMPOTENCY_KEY
from subscriptions.api.views import JsonApi, checked_lookup, validated
from subscriptions.models import Drift, ProviderAccount, Reconciliation, ShortCode
from subscriptions.reconciliation import service

RECONCILE = "subscriptions.reconcile_providers"
VIEW = "subscriptions.view_reconciliation"
ID = r"[1-9][0-9]{0,17}"


class ReconcileRequestSerializer(serializers.Serializer):
    short_code = serializers.CharField(required=False, max_length=20)
    dry_run = serializers.BooleanField(default=False)

    def validate_short_code(self, value):
        code = ShortCode.objects.filter(code=value).first()
        if code is None:
            raise serializers.ValidationError(f"No short code {value!r}.")
        return code


class QueuedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class ReconciliationSerializer(serializers.ModelSerializer):
    provider = serializers.IntegerField(source="provider_id")
    short_code = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Reconciliation
        fields = [
            "id",
            "provider",
            "short_code",
            "status",
            "checked",
            "in_step",
            "drift",
            "dry_run",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class DriftSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="contact.phone")
    short_code = serializers.CharField(source="short_code.code")
    keyword = serializers.CharField(source="keyword.word", default=None)

    class Meta:
        model = Drift
        fields = ["phone", "short_code", "keyword", "portal", "provider", "action"]
        read_only_fields = fields


class InOrder(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema(tags=["reconciliation"])
class ReconcileView(JsonApi, APIView):
    permission_classes = [requires(RECONCILE)]

    @extend_schema(
        request=ReconcileRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={202: QueuedSerializer, 400: ERROR, 404: ERROR},
    )
    @idempotent
    def post(self, request, pk):
        account = get_object_or_404(ProviderAccount, pk=checked_lookup(pk, ID, "provider account"))
        data = validated(ReconcileRequestSerializer, request.data)
        try:
            with transaction.atomic():
                run = service.start(
                    account,
                    short_code=data.get("short_code"),
                    dry_run=data["dry_run"],
                    requested_by=request.user.get_username(),
                )
        except service.ScopeError as error:
            raise serializers.ValidationError({"short_code": [str(error)]}) from error
        return Response({"id": run.pk, "status": run.status}, status=status.HTTP_202_ACCEPTED)


def _run(pk):
    return get_object_or_404(
        Reconciliation.objects.select_related("short_code"),
        pk=checked_lookup(pk, ID, "reconciliation"),
    )


@extend_schema(tags=["reconciliation"], responses={200: ReconciliationSerializer, 404: ERROR})
class ReconciliationView(JsonApi, APIView):
    permission_classes = [requires(VIEW)]

    def get(self, request, pk):
        return Response(ReconciliationSerializer(_run(pk)).data)


@extend_schema(tags=["reconciliation"])
class DriftListView(JsonApi, ListAPIView):
    """The drift a run found, in the order it found it (cursor-paginated)."""

    serializer_class = DriftSerializer
    permission_classes = [requires(VIEW)]
    pagination_class = InOrder

    def get_queryset(self):
        run = _run(self.kwargs["pk"])
        return Drift.objects.filter(reconciliation=run).select_related(
            "contact", "short_code", "keyword"
        )
