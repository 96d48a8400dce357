"""The API's JSON parser: bounded in size and depth, so no body a client can send makes a
500 (a RecursionError in the decoder or later in json.dumps, or an unbounded read).

- Size: at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes are read; a longer body is 413
  `too_large` (DRF reads the stream itself, past Django's own check on request.body).
- Depth: objects and arrays nested deeper than MAX_DEPTH are 400 `too_deep`. Nothing the
  API takes is nested more than three levels.
"""

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json

MAX_DEPTH = 20


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class TooDeep(ParseError):
    default_detail = f"JSON nested deeper than {MAX_DEPTH} levels."
    default_code = "too_deep"


def body_limit():
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_deep(value, limit=MAX_DEPTH):
    """Whether `value` nests containers deeper than `limit` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = body_limit()
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body is over {limit} bytes.")
        try:
            text = raw.decode(encoding)
            value = json.loads(
                text, parse_constant=None if not api_settings.STRICT_JSON else _refuse_constant
            )
        except RecursionError:
            raise TooDeep() from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        # A text with no more opening brackets than MAX_DEPTH cannot nest deeper: the walk,
        # ten thousand items on a batch body, is skipped.
        if text.count("[") + text.count("{") > MAX_DEPTH and too_deep(value):
            raise TooDeep()
        return value


def _refuse_constant(name):
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")
