"""POST imports/, GET imports/{id}/, GET imports/{id}/errors.csv (docs/api.md)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from subscriptions.api.idempotency import idempotent
from subscriptions.api.permissions import IMPORT_SUBSCRIPTIONS, requires
from subscriptions.api.schema import IDEMPOTENCY_KEY
from subscriptions.api.views import checked_lookup
from subscriptions.imports import pipeline
from subscriptions.models import ImportJob
from subscriptions.reporting.csv_export import streaming_csv_response

MAX_UPLOAD_BYTES = 512 * 1024 * 1024


class ImportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = [
            "id",
            "status",
            "total",
            "processed",
            "applied",
            "refused",
            "errors",
            "unchanged",
            "dry_run",
            "file_name",
            "failure",
        ]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=False)

    def validate_file(self, upload):
        if upload.size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(
                f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
            )
        return upload


def _job(pk):
    """The job a path names; any value that cannot be a job id is a 404 in the API's format."""
    return get_object_or_404(ImportJob, pk=checked_lookup(pk, r"[1-9][0-9]{0,17}", "import"))


@extend_schema(tags=["imports"])
class ImportListView(APIView):
    permission_classes = [requires(IMPORT_SUBSCRIPTIONS)]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        parameters=[IDEMPOTENCY_KEY],
        responses={202: ImportJobSerializer},
    )
    @idempotent
    def post(self, request):
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        job = pipeline.submit(
            upload.validated_data["file"],
            dry_run=upload.validated_data["dry_run"],
            user=request.user,
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["imports"], responses={200: ImportJobSerializer})
class ImportDetailView(APIView):
    permission_classes = [requires(IMPORT_SUBSCRIPTIONS)]

    def get(self, request, pk):
        return Response(ImportJobSerializer(_job(pk)).data)


@extend_schema(
    tags=["imports"],
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="The rejected rows, with the reason for each."
        )
    },
)
class ImportErrorsView(APIView):
    permission_classes = [requires(IMPORT_SUBSCRIPTIONS)]

    def get(self, request, pk):
        job = _job(pk)
        return streaming_csv_response(pipeline.errors_csv_rows(job), f"import-{job.pk}-errors.csv")
