"""Every API error has one shape: `{"detail": "...", "code": "..."}`. Validation errors keep
DRF's field -> messages mapping beside those two keys, so a client can tell which field was
wrong and nothing an integration read before changes. Unknown paths under /api/ answer the
same JSON (handler404 in portal/urls.py), never an HTML page."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from subscriptions.api.parsers import PayloadTooLarge

INVALID = {"detail": "Invalid input.", "code": "invalid"}


def _first_code(detail):
    """The code of the first error in a DRF error structure (dicts and lists nest)."""
    if isinstance(detail, dict):
        detail = next(iter(detail.values()), None)
    if isinstance(detail, list):
        detail = detail[0] if detail else None
    if isinstance(detail, dict | list):
        return _first_code(detail)
    return getattr(detail, "code", None) or "invalid"


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
    elif isinstance(detail, dict):
        response.data = {**INVALID, "code": _first_code(detail), **response.data}
    elif isinstance(detail, list):
        response.data = {**INVALID, "code": _first_code(detail), "non_field_errors": detail}
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


def api_aware_404(request, exception=None):
    """JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such API endpoint.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
