"""Every API error has one shape: `{"detail": "...", "code": "..."}`; validation errors
keep DRF's field -> messages mapping so a client can tell which field was wrong."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


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
    return response
