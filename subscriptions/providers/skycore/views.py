"""Provider webhooks: the SkyCore Opt-in Status Postback (POST /webhooks/skycore/{token}/).

SkyCore signs nothing, so the secret is the account's postback token in the URL. The view
is thin: size limit, authenticate by token, find the XML, then `inbound` does the rest. It
answers quickly: the only work inline is a few queries; provider sync is deferred through
the outbox like every other change.
"""

from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from subscriptions.common.client import client_address
from subscriptions.consent import catalog
from subscriptions.inbound import postbacks
from subscriptions.models import PostbackProblem, ProviderKind

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _error(status, detail, code):
    return JsonResponse({"detail": detail, "code": code}, status=status)


@csrf_exempt
@require_POST
def skycore_postback(request, token):
    account = catalog.postback_account(token, ProviderKind.SKYCORE)  # kept per process
    if account is None:
        return _error(404, "Unknown postback URL.", "not_found")
    remote_addr = client_address(request)
    refused = _size_problem(request)
    if refused:
        status, detail, code = refused
        postbacks.record_unmatched(
            account, PostbackProblem.REJECTED, "", remote_addr, reason=detail
        )
        return _error(status, detail, code)
    # Read (and cache) the bounded body first, so the form parser works from the copy and
    # the verbatim text stays available for the record.
    body = request.body
    try:
        xml, raw = _postback_xml(request, body)
        postback = postbacks.parse_postback(xml, raw)
    except postbacks.PostbackRejected as exc:
        postbacks.record_unmatched(
            account, PostbackProblem.REJECTED, _raw_text(body), remote_addr, reason=str(exc)
        )
        return _error(400, str(exc), exc.code)
    outcome = postbacks.apply_postback(account, postback, remote_addr)
    status = 202 if outcome.status == "unmatched" else 200
    return JsonResponse(
        {"status": outcome.status, "keyword": outcome.keyword, "discovered": outcome.discovered},
        status=status,
    )


def _size_problem(request):
    """Refuse big bodies from the declared length, before reading a byte of them. Django
    reads no further than CONTENT_LENGTH, so a body without one is read as empty."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 400, "Content-Length is not a number.", "bad_length"
    if length > postbacks.POSTBACK_MAX_BYTES:
        return (
            413,
            f"The body is {length} bytes; postbacks may be at most {postbacks.POSTBACK_MAX_BYTES}.",
            "too_large",
        )
    return None


def _postback_xml(request, body):
    """(xml to parse, verbatim text for the history): the raw body, or the form field
    `xml` (SkyCore does not document which one it uses)."""
    if request.content_type in FORM_TYPES:
        try:
            xml = request.POST.get("xml", "")
        except (MultiPartParserError, SuspiciousOperation) as exc:
            raise postbacks.PostbackRejected(f"Unreadable form body: {exc}.") from exc
        if not xml.strip():
            raise postbacks.PostbackRejected("The form has no `xml` field.", "missing_xml")
        return xml, _storable(xml)
    if not body.strip():
        raise postbacks.PostbackRejected("The body is empty: send the postback XML.", "missing_xml")
    return body, _raw_text(body)


def _raw_text(body):
    # Kept as text in the history; undecodable bytes stay visible as escapes.
    return _storable(body.decode("utf-8", errors="backslashreplace"))


def _storable(text):
    # PostgreSQL refuses NUL in text columns: keep it visible as an escape instead.
    return text.replace("\x00", "\\x00")
