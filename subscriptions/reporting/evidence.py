"""The consent evidence of one number: its complete timeline (history with wording, sources,
IPs and user agents; provider syncs, provider calls and texts sent), oldest first, as rows
for a CSV file. Each source is read in time order and merged lazily, so a long timeline is
streamed, not loaded."""

import heapq
import json

from django.db.models import Q

from subscriptions.models import OutboundMessage, ProviderCall, ProviderSync, SubscriptionEvent
from subscriptions.providers.base import redact

COLUMNS = [
    "at",
    "kind",
    "short_code",
    "keyword",
    "action",
    "old_status",
    "new_status",
    "outcome",
    "reason",
    "source",
    "actor",
    "occurred_at",
    "consent_text",
    "ip_address",
    "user_agent",
    "external_id",
    "provider",
    "request",
    "response",
    "detail",
]
CHUNK = 2000


def _events(contact):
    events = (
        SubscriptionEvent.objects.filter(contact=contact)
        .select_related("short_code", "keyword")
        .order_by("recorded_at", "id")
    )
    for e in events.iterator(chunk_size=CHUNK):
        yield (
            e.recorded_at,
            {
                "kind": "history",
                "short_code": e.short_code.code,
                "keyword": e.keyword.word if e.keyword else "",
                "action": e.action,
                "old_status": e.old_status,
                "new_status": e.new_status,
                "outcome": e.outcome,
                "reason": e.reason,
                "source": e.source,
                "actor": e.actor_label,
                "occurred_at": e.occurred_at.isoformat(),
                "consent_text": e.consent_text,
                "ip_address": e.ip_address or "",
                "user_agent": e.user_agent,
                "external_id": e.external_id,
                "request": e.raw_payload,
                "detail": json.dumps(e.detail, sort_keys=True) if e.detail else "",
            },
        )


def _syncs(contact):
    syncs = (
        ProviderSync.objects.filter(contact=contact)
        .select_related("short_code", "provider")
        .order_by("created_at", "id")
    )
    for s in syncs.iterator(chunk_size=CHUNK):
        yield (
            s.created_at,
            {
                "kind": "provider sync",
                "short_code": s.short_code.code,
                "action": s.operation,
                "outcome": s.status,
                "reason": s.last_error,
                "provider": s.provider.name,
                "detail": f"attempts={s.attempts}; {s.detail}".strip("; "),
            },
        )


def _calls(contact):
    # IN (subquery) on each indexed foreign key, so PostgreSQL can OR two index scans
    # instead of scanning the whole call log.
    calls = (
        ProviderCall.objects.filter(
            Q(sync__in=ProviderSync.objects.filter(contact=contact).values("pk"))
            | Q(message__in=OutboundMessage.objects.filter(phone=contact.phone).values("pk"))
        )
        .select_related("provider")
        .order_by("created_at", "id")
    )
    secrets = {}
    for c in calls.iterator(chunk_size=CHUNK):
        if c.provider_id not in secrets:
            secrets[c.provider_id] = _secrets_of(c.provider)
        clean = [redact(t, secrets[c.provider_id]) for t in (c.url, c.error)]
        yield (
            c.created_at,
            {
                "kind": "provider call",
                "action": f"{c.method} {clean[0]}",
                "outcome": str(c.status_code or ""),
                "reason": clean[1],
                "provider": c.provider.name,
                # Redacted again with today's secrets: rows logged before every encoding
                # of a secret was masked must not leak through the export.
                "request": redact(c.request_body, secrets[c.provider_id]),
                "response": redact(c.response_body, secrets[c.provider_id]),
                "detail": f"{c.elapsed_ms} ms",
            },
        )


def _secrets_of(account):
    try:
        return [str(v) for v in account.secrets.values()]
    except ValueError:  # secrets sealed with a key no longer configured: nothing to mask
        return []


def _texts(contact):
    texts = (
        OutboundMessage.objects.filter(phone=contact.phone)
        .select_related("short_code", "provider")
        .order_by("created_at", "id")
    )
    for m in texts.iterator(chunk_size=CHUNK):
        yield (
            m.created_at,
            {
                "kind": "text sent",
                "short_code": m.short_code.code,
                "action": m.purpose,
                "outcome": m.status,
                "reason": m.last_error,
                "provider": m.provider.name,
                "consent_text": m.text,
                "detail": f"sent_at={m.sent_at.isoformat()}" if m.sent_at else "",
            },
        )


def timeline_rows(contact):
    """CSV rows: the header, then every entry of the number's timeline, oldest first."""
    yield COLUMNS
    merged = heapq.merge(
        _events(contact),
        _syncs(contact),
        _calls(contact),
        _texts(contact),
        key=lambda entry: entry[0],
    )
    for at, fields in merged:
        yield [at.isoformat(), *(fields.get(column, "") for column in COLUMNS[1:])]
