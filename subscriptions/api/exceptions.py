"""Every API error has one shape: `{"detail": "...", "code": "..."}`. Validation errors keep
DRF's field -> messages mapping beside those two keys, so a client can tell which field was
wrong and nothing an integration read before changes. Unknown paths under /api/ answer the
same JSON (handler404 in portal/urls.py), never an HTML page."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

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


def api_aware_404(request, exception=None):
    """JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such API endpoint.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def api_aware_500(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "The server failed; the request may be retried.", "code": "server_error"},
            status=500,
        )
    return defaults.server_error(request)
