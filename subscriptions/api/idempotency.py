"""`Idempotency-Key` on POST, as a decorator any DRF view's `post` can wear.

    from subscriptions.api.idempotency import idempotent

    class InboundView(APIView):
        permission_classes = [requires(SUBMIT_INBOUND)]

        @idempotent
        def post(self, request):
            ...

The same client (token user) sending the same key with the same method, path and body
within 24 h gets the first answer back (status and body, with `Idempotent-Replayed: true`)
and nothing runs again; the same key with a different request answers 422. JSON bodies are
compared by content (key order and spacing do not matter); multipart bodies by their fields
and the SHA-256 of each uploaded file, so a retried CSV upload matches. Answers below 500,
refusals and validation errors included, are kept; a 500 keeps nothing so the client can
retry. The view runs inside the transaction that stores the key, so a concurrent request
with the same key waits for the first and then gets its answer.
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from subscriptions.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used with a different request in the "
        "last 24 hours; send a new key for a new request."
    )
    default_code = "idempotency_key_reused"


def idempotent(post):
    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return post(view, request, *args, **kwargs)
        key = _checked(key)
        fingerprint = request_fingerprint(request)
        with transaction.atomic():
            record, first = _claim(request.user, key, fingerprint)
            if not first:
                return _replay(record, fingerprint)
            response = _answer(view, request, post, args, kwargs)
            record.status_code = response.status_code
            record.response_body = json.dumps(response.data, cls=JSONEncoder)
            record.save(update_fields=["status_code", "response_body"])
            return response

    return wrapper


def _checked(key):
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            {HEADER: [f"Send 1 to {MAX_KEY_LENGTH} printable characters, e.g. a UUID."]}
        )
    return key


def request_fingerprint(request):
    """SHA-256 of what makes two requests "the same": method, path with query, body."""
    data = request.data
    content = sorted(data.lists()) if hasattr(data, "lists") else data
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(json.dumps(content, sort_keys=True, default=_file_digest).encode())
    return digest.hexdigest()


def _file_digest(uploaded):
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return {"file": uploaded.name, "sha256": digest.hexdigest()}


def _claim(user, key, fingerprint):
    """(record, True) for the first request with this key, (stored record, False) after."""
    IdempotencyKey.objects.filter(
        user=user, key=key, created_at__lt=timezone.now() - LIFETIME
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user, key=key, fingerprint=fingerprint, status_code=0
            ), True
    except IntegrityError:
        # Another request holds or held the key; PostgreSQL made us wait for its commit.
        return IdempotencyKey.objects.get(user=user, key=key), False


def _replay(record, fingerprint):
    if record.fingerprint != fingerprint:
        raise KeyReused()
    return Response(
        json.loads(record.response_body),
        status=record.status_code,
        headers={REPLAYED_HEADER: "true"},
    )


def _answer(view, request, post, args, kwargs):
    """The view's answer, with client errors turned into their response (and kept); any
    other exception propagates and rolls the key back."""
    try:
        return post(view, request, *args, **kwargs)
    except APIException as exc:
        return view.handle_exception(exc)
