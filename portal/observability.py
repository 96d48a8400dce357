"""Request ids and structured logs.

Every request gets an id (the caller's X-Request-ID when it is sane, else a new one), sent
back in the response header and attached to every log record made while it is handled,
and carried into the tasks it enqueues (`current_request_id()` / `bind_request_id()`), so
one id ties a web request to the provider calls it caused.
"""

import contextvars
import json
import logging
import re
import uuid
from contextlib import contextmanager

_request_id = contextvars.ContextVar("request_id", default="")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current_request_id():
    return _request_id.get()


@contextmanager
def bind_request_id(request_id):
    token = _request_id.set(request_id or "")
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get(self.header, "")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id
        with bind_request_id(request_id):
            response = self.get_response(request)
        response[self.header] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = current_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
