"""Every API error has one shape: `{"detail": "...", "code": "..."}`; validation errors
keep DRF's field -> messages mapping so a client can tell which field was wrong."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from subscriptions.api.parsers import PayloadTooLarge


def exception_handler(exc, context):
    # Django's own exceptions carry no code; give them DRF's so the shape holds.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        # Django's body limits (DATA_UPLOAD_MAX_MEMORY_SIZE, ..._NUMBER_FIELDS): 413 in the
        # API's shape instead of Django's HTML 400.
        exc = PayloadTooLarge(str(exc) or None)
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    if isinstance(detail, str):  # ErrorDetail is a str carrying its code
        response.data = {"detail": str(detail), "code": detail.code}
    return response


JSON_PREFIXES = ("/api/", "/webhooks/")


def bad_request(request, exception=None):
    """handler400: what Django refuses before a view runs (a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE read outside DRF, a bad Host) answers the API's JSON shape on
    the JSON endpoints, and Django's page elsewhere."""
    if not request.path.startswith(JSON_PREFIXES):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        return JsonResponse(
            {"detail": "The request body is too large.", "code": "too_large"}, status=413
        )
    return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)


def server_error(request):
    """handler500: the API's JSON shape on the JSON endpoints (never a stack trace)."""
    if not request.path.startswith(JSON_PREFIXES):
        return defaults.server_error(request)
    return JsonResponse({"detail": "Internal error.", "code": "server_error"}, status=500)
