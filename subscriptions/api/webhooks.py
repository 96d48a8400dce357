"""Outbound webhook endpoints and their deliveries (docs/api.md "Outbound webhooks").

Reading needs the view permission of webhook endpoints (the Marketing and Compliance
groups have it); every write (create, change, delete, redeliver, rotate) needs
`subscriptions.change_webhookendpoint`. Bad input (an unknown event type, a URL of another
scheme, an unsafe address) is a 400 `{detail, code}` and changes nothing. Create is not
replayed from the Idempotency-Key store: its answer carries the secret, which is never
stored in clear.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ErrorDetail, NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from subscriptions.api.schema import ERROR
from subscriptions.api.views import JsonApi
from subscriptions.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from subscriptions.webhooks import service

VIEW = "subscriptions.view_webhookendpoint"
CHANGE = "subscriptions.change_webhookendpoint"


class WebhookPermissions(BasePermission):
    message = "Your token lacks the Django permission for this action on webhooks."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.has_perm(VIEW if request.method in SAFE_METHODS else CHANGE)


class BadWebhook(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Invalid webhook endpoint."
    default_code = "invalid"


def _first_error(errors, path=""):
    """(field path, ErrorDetail) of the first error in DRF's nested errors."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            found = _first_error(value, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(errors, list):
        for value in errors:
            found = _first_error(value, path)
            if found:
                return found
    elif isinstance(errors, ErrorDetail):
        return path, errors
    return None


def checked(serializer):
    """A valid serializer, or a 400 in the API's error shape naming the field."""
    if not serializer.is_valid():
        field, error = _first_error(serializer.errors) or ("", ErrorDetail("Invalid.", "invalid"))
        detail = str(error) if field in ("", "non_field_errors") else f"{field}: {error}"
        raise BadWebhook(detail=detail, code=error.code)
    return serializer


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.JSONField(
        help_text="Event types: consent.changed, revocation.received, revocation.decided, "
        "reconciliation.drift."
    )
    secret = serializers.SerializerMethodField(
        help_text="`whsec_` + base64; only in the answer to the POST (and to rotate-secret)."
    )
    rotation_ends_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "secret",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "rotation_ends_at",
            "created_at",
        ]
        read_only_fields = ["failing_since", "disabled_at", "disabled_reason", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].validators = WebhookEndpoint._meta.get_field("events").validators

    def get_secret(self, endpoint) -> str | None:
        return self.context.get("secret")


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type")
    webhook_id = serializers.CharField(source="event.msg_id")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_type",
            "webhook_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
        ]


class DeliveryQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class RotateSerializer(serializers.Serializer):
    grace_hours = serializers.FloatField(
        min_value=0,
        max_value=24 * 30,
        required=False,
        help_text="How long the old secret keeps signing (default 24).",
    )


@extend_schema(tags=["webhooks"])
class WebhookEndpointViewSet(
    JsonApi,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Endpoints that receive signed consent events (Standard Webhooks)."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    permission_classes = [WebhookPermissions]
    lookup_value_regex = r"\d+"

    @extend_schema(
        responses={201: WebhookEndpointSerializer, 400: ERROR},
        examples=[
            OpenApiExample(
                "CRM endpoint",
                request_only=True,
                value={
                    "url": "https://crm.example.com/hooks/sms-consent",
                    "events": ["consent.changed"],
                    "description": "CRM",
                },
            )
        ],
    )
    def create(self, request):
        serializer = checked(self.get_serializer(data=request.data))
        endpoint, secret = service.create_endpoint(**serializer.validated_data)
        out = self.get_serializer(
            endpoint, context={**self.get_serializer_context(), "secret": secret}
        )
        return Response(out.data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: WebhookEndpointSerializer, 400: ERROR})
    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        serializer = checked(self.get_serializer(endpoint, data=request.data, partial=True))
        service.update_endpoint(endpoint, **serializer.validated_data)
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(
        parameters=[DeliveryQuerySerializer], responses={200: DeliverySerializer(many=True)}
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """This endpoint's deliveries, newest first."""
        endpoint = self.get_object()
        query = checked(DeliveryQuerySerializer(data=request.query_params)).validated_data
        rows = endpoint.deliveries.select_related("event").order_by("-id")
        if "status" in query:
            rows = rows.filter(status=query["status"])
        return Response(DeliverySerializer(rows[: query["limit"]], many=True).data)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>\d+)/redeliver",
        url_name="redeliver",
    )
    def redeliver(self, request, pk=None, delivery_id=None):
        """Send a delivery again (same webhook-id), after its number's earlier events."""
        delivery = WebhookDelivery.objects.filter(
            pk=delivery_id, endpoint=self.get_object()
        ).first()
        if delivery is None:
            raise NotFound(f"No delivery {delivery_id} of this endpoint.")
        delivery = service.redeliver(delivery)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RotateSerializer, responses={200: WebhookEndpointSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret", url_name="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, shown once; the old one keeps signing (a second signature) for
        `grace_hours` (default PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS)."""
        endpoint = self.get_object()
        grace = checked(RotateSerializer(data=request.data)).validated_data.get("grace_hours")
        secret = service.rotate_secret(endpoint, grace)
        context = {**self.get_serializer_context(), "secret": secret}
        return Response(self.get_serializer(endpoint, context=context).data)
