"""The consent certificate of one number (docs/evidence.md): a summary (current state per
program and code, stops, open revocations), then one chronological narrative of everything
that happened to the number: history events with the exact wording shown, texts sent (one-time
codes masked), provider deliveries and the providers' answers, staff reasons.

`build` reads the database once into plain `Entry` rows with human labels; the renderers in
reporting/certificate_render.py turn the same rows into HTML, PDF and CSV, so the three
formats cannot disagree."""

import heapq
from datetime import datetime, tzinfo

from django.db.models import Q

from subscriptions.common.phones import national
from subscriptions.models import (
    Action,
    Contact,
    MessagePurpose,
    MessageStatus,
    OutboundMessage,
    Outcome,
    ProviderCall,
    ProviderSync,
    RevocationChannel,
    RevocationDecisionKind,
    RevocationVerdict,
    Source,
    Status,
    SubscriptionEvent,
    SyncStatus,
)
from subscriptions.models.consent import ORIGIN_DETAIL_KEY
from subscriptions.reporting.certificate_entries import (
    ALL,
    CHUNK,
    CSV_FIELDS,
    SUMMARY,
    TIMELINE,
    Certificate,
    Entry,
    Fact,
    Scope,
    label,
    mask_codes,
    program_label,
    shown_facts,
    staff_time_zone,
)
from subscriptions.reporting.certificate_revocations import open_revocations, revocation_entries

# Names the admin, the API and the renderers read from here.
__all__ = [
    "CSV_FIELDS",
    "Certificate",
    "Entry",
    "Scope",
    "national",
    "shown_facts",
    "staff_time_zone",
]

# Readable names for what the services keep in SubscriptionEvent.detail.
DETAIL_LABELS = {
    "reason": "Staff reason",
    "word": "Word texted",
    "received_at": "Received by the provider at",
    "import_job": "Import job",
    "file": "Import file",
    "line": "Line of the file",
    "revocation_id": "Revocation number",
    "revocation_channel": "Revoked by",
    "decision": "Staff decision",
    "revocation": "Read as a revocation",
    "verdict": "verdict",
    "matched": "words matched",
    ORIGIN_DETAIL_KEY: "Provider account",
}
# Detail keys holding a choice value: shown by its label, never the machine code.
CHOICE_DETAIL_KEYS = {
    "revocation_channel": RevocationChannel,
    "decision": RevocationDecisionKind,
    "verdict": RevocationVerdict,
}

# Detail keys holding an ISO time: shown in the reader's time zone like every other time.
TIME_DETAIL_KEYS = {"received_at"}


def _detail_label(key) -> str:
    return DETAIL_LABELS.get(key, key.replace("_", " ").capitalize())


def _detail_value(key, value):
    """A detail value in words: a choice by its label, a time as a datetime (shown in the
    reader's zone), a nested object as "label: value" pairs, never a Python or JSON dump."""
    if isinstance(value, dict):
        return "; ".join(
            f"{_detail_label(k)}: {_detail_value(k, v)}" for k, v in sorted(value.items())
        )
    if isinstance(value, list):
        return ", ".join(str(_detail_value(key, v)) for v in value)
    if key in CHOICE_DETAIL_KEYS:
        return label(CHOICE_DETAIL_KEYS[key], value)
    if key in TIME_DETAIL_KEYS and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return str(value)


def _event_details(event) -> tuple[str, tuple[Fact, ...]]:
    """The staff reason and the other detail keys as (label, value), never raw JSON."""
    detail = dict(event.detail or {})
    reason = str(detail.pop("reason", "") or "")
    if event.reason and event.reason != reason:
        reason = f"{reason}; {event.reason}" if reason else event.reason
    facts = [
        (_detail_label(key), _detail_value(key, value)) for key, value in sorted(detail.items())
    ]
    facts.append(("Occurred at the source", event.occurred_at))
    if event.external_id:
        facts.append(("Message id", event.external_id))
    return reason, tuple(facts)


def _status_change(event) -> str:
    old, new = label(Status, event.old_status), label(Status, event.new_status)
    if old and new and old != new:
        return f"{old} → {new}"
    return new or old


def _events(contact, scope=ALL):
    events = scope.apply(
        SubscriptionEvent.objects.filter(contact=contact).select_related("short_code", "keyword"),
        "recorded_at",
        events=True,
    )
    for e in events.iterator(chunk_size=CHUNK):
        reason, facts = _event_details(e)
        outcome = label(Outcome, e.outcome)
        yield Entry(
            section=TIMELINE,
            entry="Consent event",
            at=e.recorded_at,
            short_code=e.short_code.code,
            program=program_label(e.keyword),
            what=f"{label(Action, e.action)}: {outcome}",
            status=_status_change(e),
            wording=e.consent_text,
            source=label(Source, e.source),
            actor=e.actor_label,
            ip_address=e.ip_address or "",
            user_agent=e.user_agent,
            reason=reason,
            details=facts,
        )


def _texts(contact, scope=ALL):
    texts = scope.apply(
        OutboundMessage.objects.filter(phone=contact.phone).select_related(
            "short_code", "provider"
        ),
        "created_at",
    )
    for m in texts.iterator(chunk_size=CHUNK):
        facts = [("Attempts", str(m.attempts))]
        if m.sent_at:
            facts.append(("Sent at", m.sent_at))
        yield Entry(
            section=TIMELINE,
            entry="Text sent",
            at=m.created_at,
            short_code=m.short_code.code,
            program="All programs",
            what=label(MessagePurpose, m.purpose),
            status=label(MessageStatus, m.status),
            wording=mask_codes(m.text) if m.purpose == MessagePurpose.ONE_TIME_CODE else m.text,
            reason=m.last_error,
            provider=m.provider.name,
            details=tuple(facts),
        )


def _syncs(contact, scope=ALL):
    syncs = scope.apply(
        ProviderSync.objects.filter(contact=contact).select_related("short_code", "provider"),
        "created_at",
    )
    for s in syncs.iterator(chunk_size=CHUNK):
        facts = [("Attempts", str(s.attempts))]
        if s.detail:
            facts.append(("What was sent", s.detail))
        yield Entry(
            section=TIMELINE,
            entry="Provider delivery",
            at=s.created_at,
            short_code=s.short_code.code,
            program="All programs",
            what=f"Bring {s.provider.name} in line with the portal",
            status=label(SyncStatus, s.status),
            reason=s.last_error,
            provider=s.provider.name,
            details=tuple(facts),
        )


def _calls(contact, scope=ALL):
    syncs = ProviderSync.objects.filter(contact=contact)
    texts = OutboundMessage.objects.filter(phone=contact.phone)
    if scope.code:
        syncs, texts = (
            syncs.filter(short_code__code=scope.code),
            texts.filter(short_code__code=scope.code),
        )
    calls = scope.apply(
        ProviderCall.objects.filter(
            Q(sync__in=syncs.values("pk")) | Q(message__in=texts.values("pk"))
        ).select_related("provider", "message"),
        "created_at",
        code_field=None,
    )
    for c in calls.iterator(chunk_size=CHUNK):
        secret = c.message is not None and c.message.purpose == MessagePurpose.ONE_TIME_CODE
        clean = mask_codes if secret else str
        answer = f"HTTP {c.status_code}" if c.status_code else "No answer"
        yield Entry(
            section=TIMELINE,
            entry="Provider answer",
            at=c.created_at,
            what=f"{c.method} {clean(c.url)}",
            status=answer,
            reason=clean(c.error),
            provider=c.provider.name,
            details=(
                ("Request", clean(c.request_body)),
                ("Response", clean(c.response_body)),
                ("Took", f"{c.elapsed_ms} ms"),
            ),
        )


def _states(contact):
    subscriptions = contact.subscriptions.select_related("short_code", "keyword").order_by(
        "short_code__code", "keyword__word"
    )
    for sub in subscriptions:
        yield Entry(
            section=SUMMARY,
            entry="Current state",
            at=sub.changed_at,
            short_code=sub.short_code.code,
            program=program_label(sub.keyword),
            status=label(Status, sub.status),
            source=label(Source, sub.last_source),
        )


def _stops(contact):
    for stop in contact.stops.select_related("short_code").order_by("short_code__code"):
        yield Entry(
            section=SUMMARY,
            entry="STOP",
            at=stop.created_at,
            short_code=stop.short_code.code,
            program="All programs",
            status="Active" if stop.is_active else "Cleared by a later opt-in",
            source=label(Source, stop.source),
            details=(("Cleared at", stop.cleared_at),) if stop.cleared_at else (),
        )


def timeline(contact: Contact, scope: Scope = ALL) -> list[Entry]:
    """Events, texts, provider deliveries and answers of one number, merged in time order."""
    sources = [_events, _texts, _syncs, _calls, revocation_entries]
    merged = heapq.merge(
        *(source(contact, scope) for source in sources),
        key=lambda entry: entry.at,
        reverse=scope.newest_first,
    )
    entries = list(merged)
    return entries[: scope.limit] if scope.limit else entries


def current_state(contact: Contact) -> tuple[list[Entry], list[Entry], list[Entry]]:
    """Subscriptions, STOPs and open revocations."""
    return list(_states(contact)), list(_stops(contact)), open_revocations(contact)


def build(contact: Contact, *, exported_by: str, now: datetime, time_zone: tzinfo) -> Certificate:
    """The certificate of `contact` as of `now`, times shown in `time_zone`."""
    states, stops, revocations = current_state(contact)
    return Certificate(
        phone=contact.phone,
        phone_display=national(contact.phone),
        exported_by=exported_by,
        exported_at=now,
        time_zone=time_zone,
        states=states,
        stops=stops,
        revocations=revocations,
        timeline=timeline(contact),
    )
