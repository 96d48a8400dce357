"""OpenAPI schema generation: the error answers every operation can give, documented once
instead of on every view, and the shared pieces of the views' `extend_schema` calls."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from subscriptions.api.idempotency import HEADER, MAX_KEY_LENGTH

ERROR = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
    },
)
# 400s carry either {detail, code} (unparseable body) or DRF's field -> messages mapping.
BAD_REQUEST = {
    "description": "Bad input: `{detail, code}`, or field errors as DRF gives them "
    "(field name -> list of messages).",
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": {}}}},
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the throttle window reopens.",
        "schema": {"type": "integer"},
    }
}
ERROR_DESCRIPTIONS = {
    "401": "No valid token (`Authorization: Token <key>`).",
    "403": "The token's user lacks the Django permission for this action.",
    "404": "Not found.",
    "415": "Send application/json.",
    "429": "Throttled: too many requests for this token; see Retry-After.",
}
IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (e.g. a UUID). The same key and body within 24 h returns "
    "the first answer and changes nothing; the same key with a different body "
    "answers 422.",
    type={"type": "string", "maxLength": MAX_KEY_LENGTH},
)


class PortalAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["401", "403", "404", "429"]
        if self.method in ("POST", "PATCH", "PUT"):
            codes.append("415")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ERROR, code, direction=direction)
                responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        responses["429"]["headers"] = RETRY_AFTER
        responses.setdefault("400", BAD_REQUEST)
        return responses
