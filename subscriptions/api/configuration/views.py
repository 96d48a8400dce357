"""Configuration API views: provider accounts, short codes and keywords (docs/api.md)."""

from functools import cached_property

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from subscriptions.api import serializers as s
from subscriptions.api.configuration import serializers as cs
from subscriptions.api.idempotency import idempotent
from subscriptions.api.permissions import ModelPermissions, requires
from subscriptions.api.schema import ERROR, IDEMPOTENCY_KEY
from subscriptions.api.views import JsonApi, PartialUpdateMixin, checked_lookup
from subscriptions.models import (
    Keyword,
    ProviderAccount,
    ShortCode,
)
from subscriptions.providers import postback_tokens

# Configuration: provider accounts, short codes, keywords -----------------------------------


class ConfigurationViewSet(
    JsonApi,
    PartialUpdateMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """List, create (idempotent), read and partially update; no delete: configuration that
    consent history points at is disabled, never removed."""

    permission_classes = [ModelPermissions]
    lookup_value_regex = "[^/]+"


def documented_create(serializer, example, value):
    """The idempotent create of a configuration viewset, with its schema and one example."""
    schema = extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        responses={201: serializer, 422: ERROR},
        examples=[OpenApiExample(example, request_only=True, value=value)],
    )

    @schema
    @idempotent
    def create(self, request, *args, **kwargs):
        return mixins.CreateModelMixin.create(self, request, *args, **kwargs)

    return create


@extend_schema(tags=["configuration"])
class ProviderAccountViewSet(ConfigurationViewSet):
    """Provider accounts. Secrets are write-only and encrypted at rest."""

    queryset = ProviderAccount.objects.all()
    serializer_class = cs.ProviderAccountSerializer

    create = documented_create(
        cs.ProviderAccountSerializer,
        "SkyCore account",
        {
            "name": "SkyCore main",
            "kind": "skycore",
            "settings": {"api_url": "https://secure.skycore.com/API/wxml/1.3/index.php"},
            "secrets": {"api_key": "..."},
            "is_active": True,
        },
    )

    @extend_schema(request=None, responses={200: cs.ProviderAccountSerializer, 403: ERROR})
    @action(
        detail=True,
        methods=["post"],
        url_path="rotate-postback-token",
        permission_classes=[requires(postback_tokens.MAY_SEE)],
    )
    def rotate_postback_token(self, request, pk=None):
        """A new postback token: the old postback URL stops working at once (enter the
        new `postback_url` at the provider). Needs change_provideraccount."""
        account = self.get_object()
        postback_tokens.rotate(account, request.user)
        return Response(self.get_serializer(account).data)


@extend_schema(tags=["configuration"])
class ShortCodeViewSet(ConfigurationViewSet):
    """Short codes (and long numbers), named by their code string."""

    queryset = ShortCode.objects.select_related("provider")
    serializer_class = cs.ShortCodeSerializer
    lookup_field = "code"

    def get_object(self):
        checked_lookup(self.kwargs["code"], s.SHORT_CODE_PATTERN[1:-1], "short code")
        return super().get_object()

    create = documented_create(
        cs.ShortCodeSerializer,
        "Seed short code",
        {
            "code": s.SEED_CODE,
            "name": "Acme deals",
            "brand": "Acme",
            "provider": 1,
            "double_opt_in_window_hours": 24,
        },
    )


@extend_schema(tags=["configuration"])
class KeywordViewSet(ConfigurationViewSet):
    """Keywords of one short code, named by their word (case-insensitive)."""

    serializer_class = cs.KeywordSerializer
    queryset = Keyword.objects.none()  # the model, for ModelPermissions and the schema

    @cached_property
    def short_code(self):
        code = checked_lookup(self.kwargs["code"], s.SHORT_CODE_PATTERN[1:-1], "short code")
        short_code = ShortCode.objects.filter(code=code).first()
        if short_code is None:
            raise NotFound(f"No short code {code!r}.")
        return short_code

    def get_queryset(self):
        return Keyword.objects.filter(short_code=self.short_code).select_related("short_code")

    def get_object(self):
        word = checked_lookup(self.kwargs["word"], s.KEYWORD_PATTERN[1:-1], "keyword")
        keyword = self.get_queryset().filter(word=word.upper()).first()
        if keyword is None:
            raise NotFound(f"No keyword {word.upper()!r} on short code {self.short_code.code}.")
        self.check_object_permissions(self.request, keyword)
        return keyword

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "code" in self.kwargs:  # absent only while the schema is generated
            context["short_code"] = self.short_code
        return context

    def perform_create(self, serializer):
        serializer.save(short_code=self.short_code)

    create = documented_create(
        cs.KeywordSerializer,
        "Program keyword",
        {
            "word": "JOIN",
            "kind": "program",
            "title": "Weekly deals",
            "description": "One text a week.",
            "double_opt_in": False,
            "is_public": True,
        },
    )
