"""The /api/v1/ views. Thin: input serializer -> service or selector -> output.

Consent changes go through `services` with source "api", the token's user as actor and the
client's consent text, address and user agent as evidence. An opt-out is a person's
revocation relayed by the integration: it goes through `revocations` (channel `api`), which
records it, confirms it once and measures it.
"""

import re

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from subscriptions.api import serializers as s
from subscriptions.api.idempotency import idempotent
from subscriptions.api.parsers import BoundedJSONParser
from subscriptions.api.permissions import CHANGE_CONSENT, requires
from subscriptions.api.schema import ERROR, IDEMPOTENCY_KEY
from subscriptions.common.client import client_address, user_agent
from subscriptions.consent import selectors, services
from subscriptions.consent.context import ServiceError
from subscriptions.models import (
    OutboundMessage,
    Outcome,
    ProviderKind,
    ProviderSync,
    RevocationChannel,
    Source,
)
from subscriptions.revocations import programs as program_revocations
from subscriptions.revocations import services as revocations

SEED = {"phone": s.SEED_PHONE, "short_code": s.SEED_CODE}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The consent rules refused this change."
    default_code = "refused"


class JsonApi:
    """JSON in and out; no browsable HTML API, so the schema says exactly what is served."""

    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]


def validated(serializer_class, data, **context):
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def api_context(request, **evidence):
    return services.Context(
        source=Source.API,
        actor=request.user,
        ip_address=client_address(request),
        user_agent=user_agent(request),
        **evidence,
    )


def checked_lookup(value, pattern, what):
    """A path value that cannot name any row is a 404 before it reaches the database."""
    if not re.fullmatch(pattern, value):
        raise NotFound(f"No {what} {value!r}.")
    return value


class NewestFirst(CursorPagination):
    """Ordered by id, which only grows: rows inserted while a client pages never shift or
    repeat the pages it has not read yet."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class PartialUpdateMixin:
    """PATCH only: a PUT would silently reset every field the client left out."""

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


# Contacts and consent ----------------------------------------------------------------------


@extend_schema(
    tags=["consent"],
    responses={200: s.ContactSerializer},
    examples=[
        OpenApiExample(
            "A contact",
            response_only=True,
            value={
                "phone": s.SEED_E164,
                "subscriptions": [
                    {
                        "short_code": s.SEED_CODE,
                        "keyword": "JOIN",
                        "status": "opted_in",
                        "changed_at": "2025-01-01T12:00:00Z",
                        "source": "api",
                    }
                ],
                "stops": [],
            },
        )
    ],
)
class ContactView(JsonApi, APIView):
    """A contact's subscriptions and active STOPs. 404 when the number is unknown."""

    permission_classes = [requires("subscriptions.view_contact", "subscriptions.view_subscription")]

    def get(self, request, phone):
        phone = validated(s.PhonePathSerializer, {"phone": phone})["phone"]
        contact = selectors.contact_by_phone(phone)
        if contact is None:
            raise NotFound(f"No contact with phone {phone}.")
        return Response(
            s.ContactSerializer(
                {
                    "phone": contact.phone,
                    "subscriptions": selectors.subscriptions_of(contact),
                    "stops": selectors.active_stops_of(contact),
                }
            ).data
        )


OPT_IN_STATUS = {Outcome.APPLIED: status.HTTP_201_CREATED, Outcome.NO_CHANGE: status.HTTP_200_OK}


@extend_schema(tags=["consent"])
class OptInView(JsonApi, APIView):
    """Opt a number in to one program; the integration attests consent (kept as evidence).

    201 when something changed (opted in, or pending when the program needs double opt-in),
    200 when already in, 409 when the rules refuse or the event is older than the last one.
    """

    permission_classes = [requires(CHANGE_CONSENT)]

    @extend_schema(
        request=s.OptInSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: s.OptInResultSerializer,
            200: s.OptInResultSerializer,
            409: OpenApiResponse(ERROR, description="Refused by the consent rules, or stale."),
            422: ERROR,
        },
        examples=[
            OpenApiExample(
                "Opt in",
                request_only=True,
                value={**SEED, "keyword": "JOIN", "consent_text": "Yes, text me weekly deals."},
            ),
            OpenApiExample(
                "Opted in",
                response_only=True,
                status_codes=["201"],
                value={
                    "phone": s.SEED_E164,
                    "short_code": s.SEED_CODE,
                    "keyword": "JOIN",
                    "status": "opted_in",
                },
            ),
        ],
    )
    @idempotent
    def post(self, request):
        data = validated(s.OptInSerializer, request.data)
        keyword = data["keyword"]
        ctx = api_context(
            request, consent_text=data["consent_text"], occurred_at=data.get("occurred_at")
        )
        event = services.opt_in(data["phone"], keyword, ctx).events[0]
        if event.outcome not in OPT_IN_STATUS:
            raise Conflict(detail=event.reason, code=event.outcome)
        return Response(
            {
                "phone": data["phone"],
                "short_code": keyword.short_code.code,
                "keyword": keyword.word,
                "status": event.subscription.status,
            },
            status=OPT_IN_STATUS[event.outcome],
        )


@extend_schema(tags=["consent"])
class OptOutView(JsonApi, APIView):
    """Opt a number out of one program, or of every program on the code when no keyword is
    given (like STOP: the number stays stopped there until it opts in again). Never refused.
    Recorded as the person's revocation (GET revocations/, channel `api`), with the one
    confirmation text the portal sends where the provider sends none.
    """

    permission_classes = [requires(CHANGE_CONSENT)]

    @extend_schema(
        request=s.OptOutSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: s.OptOutResultSerializer, 422: ERROR},
        examples=[
            OpenApiExample("One program", request_only=True, value={**SEED, "keyword": "JOIN"}),
            OpenApiExample("Whole short code", request_only=True, value=SEED),
            OpenApiExample(
                "Opted out",
                response_only=True,
                value={
                    "phone": s.SEED_E164,
                    "short_code": s.SEED_CODE,
                    "changed": [{"keyword": "JOIN", "status": "opted_out"}],
                },
            ),
        ],
    )
    @idempotent
    def post(self, request):
        data = validated(s.OptOutSerializer, request.data)
        code, keyword = data["short_code"], data["keyword"]
        ctx = api_context(request)
        try:
            applied = _opt_out(data["phone"], code, keyword, ctx)
        except ServiceError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(
            {
                "phone": data["phone"],
                "short_code": code.code,
                "changed": [
                    {"keyword": e.keyword.word, "status": e.new_status}
                    for e in applied.changed
                    if e.short_code_id == code.pk  # the brand scope may stop more codes
                ],
            }
        )


def _opt_out(phone, code, keyword, ctx):
    """The opt-out as the revocation it is: of one program, or of the whole code."""
    if keyword is None:
        return revocations.record_revocation(
            phone,
            channel=RevocationChannel.API,
            text=f"opt-out through the API: every program on {code.code}",
            ctx=ctx,
            short_code=code,
        )
    return program_revocations.revoke_programs(
        phone,
        [keyword],
        channel=RevocationChannel.API,
        text=f"opt-out through the API: {keyword.word} on {code.code}",
        ctx=ctx,
    )


@extend_schema(tags=["consent"])
class SendableView(JsonApi, APIView):
    """May we text this number (on this code, for this program)? Pending is never sendable.

    POST answers up to 10,000 numbers at once, in input order, in one query; a number that
    does not parse is answered `sendable: false, reason: "invalid"` on its own. It changes
    nothing, so it takes no Idempotency-Key: a replayed answer would be
    stale consent.
    """

    permission_classes = [requires("subscriptions.view_subscription")]

    @extend_schema(
        parameters=[s.SendableQuerySerializer],
        responses={200: s.SendableSerializer},
        examples=[
            OpenApiExample(
                "Sendable",
                response_only=True,
                value={
                    "phone": s.SEED_E164,
                    "short_code": s.SEED_CODE,
                    "keyword": "JOIN",
                    "sendable": True,
                    "reason": "opted_in",
                },
            )
        ],
    )
    def get(self, request):
        data = validated(s.SendableQuerySerializer, request.query_params)
        answer = selectors.sendable(data["phone"], data["short_code"], data["keyword"])
        return Response(s.SendableSerializer(answer).data)

    @extend_schema(
        request=s.SendableBatchSerializer,
        responses={200: s.SendableBatchResultSerializer},
        examples=[
            OpenApiExample(
                "Batch",
                request_only=True,
                value={
                    "short_code": s.SEED_CODE,
                    "keyword": "JOIN",
                    "phones": [s.SEED_PHONE, "+15555551213"],
                },
            ),
            OpenApiExample(
                "Batch answer",
                response_only=True,
                value={
                    "results": [
                        {"phone": s.SEED_E164, "sendable": True, "reason": "opted_in"},
                        {"phone": "+15555551213", "sendable": False, "reason": "stopped"},
                    ]
                },
            ),
        ],
    )
    def post(self, request):
        data = validated(s.SendableBatchSerializer, request.data)
        answers = selectors.sendable_many(data["phones"], data["short_code"], data["keyword"])
        return HttpResponse(s.sendable_batch_json(answers), content_type="application/json")


# Logs: history, provider syncs, console outbox --------------------------------------------


@extend_schema(tags=["logs"], parameters=[s.EventQuerySerializer])
class EventListView(JsonApi, ListAPIView):
    """The consent history, newest first, cursor-paginated (stable while rows are added)."""

    serializer_class = s.EventSerializer
    permission_classes = [requires("subscriptions.view_subscriptionevent")]
    pagination_class = NewestFirst

    def get_queryset(self):
        return selectors.history(**validated(s.EventQuerySerializer, self.request.query_params))


@extend_schema(tags=["logs"], parameters=[s.SyncQuerySerializer])
class SyncListView(JsonApi, ListAPIView):
    """The provider sync log (the outbox of consent changes to providers), newest first."""

    serializer_class = s.SyncSerializer
    permission_classes = [requires("subscriptions.view_providersync")]
    pagination_class = NewestFirst

    def get_queryset(self):
        filters = validated(s.SyncQuerySerializer, self.request.query_params)
        syncs = ProviderSync.objects.select_related("contact", "short_code")
        if "status" in filters:
            syncs = syncs.filter(status=filters["status"])
        if "provider" in filters:
            syncs = syncs.filter(provider_id=filters["provider"])
        return syncs


@extend_schema(
    tags=["logs"],
    parameters=[s.OutboxQuerySerializer],
    responses={200: s.OutboxSerializer(many=True)},
)
class OutboxView(JsonApi, APIView):
    """Texts the console provider "sent" (development, demos, tests), newest first."""

    permission_classes = [requires("subscriptions.view_outboundmessage")]

    def get(self, request):
        filters = validated(s.OutboxQuerySerializer, request.query_params)
        messages = (
            OutboundMessage.objects.filter(provider__kind=ProviderKind.CONSOLE)
            .select_related("short_code")
            .order_by("-id")
        )
        if "phone" in filters:
            messages = messages.filter(phone=filters["phone"])
        return Response(s.OutboxSerializer(messages[: filters["limit"]], many=True).data)
