"""One root for the portal's own errors (common/errors.py): a caller can catch everything
the portal refuses on purpose with `except PortalError`, and Python's own exceptions keep
their meaning (the append-only guard no longer raises the built-in PermissionError)."""

import importlib
import inspect
import pkgutil

from rest_framework.exceptions import APIException

import subscriptions
from subscriptions.common.errors import AppendOnlyViolation, PortalError


def _portal_exceptions():
    for info in pkgutil.walk_packages(subscriptions.__path__, "subscriptions."):
        if ".migrations" in info.name or info.name.endswith(".tasks"):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            # DRF's APIException subclasses are HTTP answers of the API, DRF's hierarchy.
            if (
                issubclass(value, BaseException)
                and not issubclass(value, APIException)
                and value.__module__ == info.name
            ):
                yield value


def test_every_exception_the_portal_defines_is_a_portal_error():
    found = list(_portal_exceptions())
    assert len(found) >= 8  # provider, phone, postback, import, service, append-only errors
    assert [cls.__qualname__ for cls in found if not issubclass(cls, PortalError)] == []


def test_the_append_only_guard_is_not_a_builtin_permission_error():
    assert not issubclass(AppendOnlyViolation, PermissionError)
