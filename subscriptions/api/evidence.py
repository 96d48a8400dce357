"""GET contacts/{phone}/evidence/?format=pdf|html|csv (docs/api.md "Consent evidence").

The certificate is built by reporting/certificate.py; this view only checks the permission,
finds the contact and picks the format. Errors stay JSON whatever format was asked, and every
answer, errors included, carries `Repr-Digest` (RFC 9530) of its body."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from subscriptions.api import serializers as s
from subscriptions.api.permissions import EXPORT_EVIDENCE, requires
from subscriptions.api.schema import ERROR
from subscriptions.consent import selectors
from subscriptions.reporting import certificate
from subscriptions.reporting.certificate_render import (
    FORMATS,
    certificate_response,
    exported_by,
    repr_digest,
)

DEFAULT_FORMAT = "pdf"


@extend_schema(
    tags=["consent"],
    parameters=[
        OpenApiParameter("format", str, enum=list(FORMATS), default=DEFAULT_FORMAT),
        OpenApiParameter("tz", str, description="IANA time zone for the times shown."),
    ],
    responses={
        (200, "application/pdf"): OpenApiTypes.BINARY,
        (200, "text/html"): OpenApiTypes.STR,
        (200, "text/csv"): OpenApiTypes.STR,
        404: OpenApiResponse(ERROR, description="Unknown number."),
    },
)
class EvidenceView(APIView):
    """One number's consent certificate: summary, then the full timeline."""

    permission_classes = [requires(EXPORT_EVIDENCE)]
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # `format` names the certificate's format, not a DRF renderer; errors are JSON.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def get(self, request, phone):
        phone = s.PhonePathSerializer(data={"phone": phone})
        phone.is_valid(raise_exception=True)
        fmt = request.query_params.get("format", DEFAULT_FORMAT)
        if fmt not in FORMATS:
            raise ValidationError(
                {"format": [f"Choose one of: {', '.join(FORMATS)}."]}, code="invalid"
            )
        contact = selectors.contact_by_phone(phone.validated_data["phone"])
        if contact is None:
            raise NotFound(f"No contact with phone {phone.validated_data['phone']}.")
        cert = certificate.build(
            contact,
            exported_by=exported_by(request.user),
            now=timezone.now(),
            time_zone=certificate.staff_time_zone(request.query_params.get("tz")),
        )
        return certificate_response(cert, fmt)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if "Repr-Digest" not in response:
            response.render()
            response["Repr-Digest"] = repr_digest(response.content)
        return response
