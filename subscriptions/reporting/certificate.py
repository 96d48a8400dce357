"""The consent certificate of one number (docs/evidence.md): a summary (current state per
program and code, stops, open revocations), then one chronological narrative of everything
that happened to the number: history events with the exact wording shown, texts sent (one-time
codes masked), provider deliveries and the providers' answers, staff reasons.

`build` reads the database once into plain `Entry` rows with human labels; the renderers in
reporting/certificate_render.py turn the same rows into HTML, PDF and CSV, so the three
formats cannot disagree."""

import heapq
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError
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
    Source,
    Status,
    SubscriptionEvent,
    SyncStatus,
)
from subscriptions.models.consent import ORIGIN_DETAIL_KEY
from subscriptions.preferences.service import CODE_DIGITS

CHUNK = 2000
MASK = "•" * CODE_DIGITS
_CODE = re.compile(rf"(?<!\d)\d{{{CODE_DIGITS}}}(?!\d)")

# Readable names for what the services keep in SubscriptionEvent.detail.
DETAIL_LABELS = {
    "reason": "Staff reason",
    "word": "Word texted",
    "received_at": "Received by the provider at",
    "import_job": "Import job",
    "file": "Import file",
    "line": "Line of the file",
    ORIGIN_DETAIL_KEY: "Provider account",
}

SUMMARY, TIMELINE = "summary", "timeline"
CSV_FIELDS = [
    "section",
    "entry",
    "short_code",
    "program",
    "what",
    "status",
    "wording",
    "source",
    "actor",
    "ip_address",
    "user_agent",
    "reason",
    "provider",
    "details",
]


@dataclass(frozen=True)
class Entry:
    """One line of the certificate. `at` is None for summary lines without a time."""

    section: str
    entry: str
    at: datetime | None = None
    short_code: str = ""
    program: str = ""
    what: str = ""
    status: str = ""
    wording: str = ""
    source: str = ""
    actor: str = ""
    ip_address: str = ""
    user_agent: str = ""
    reason: str = ""
    provider: str = ""
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Scope:
    """Which part of a timeline to read: the certificate reads all of it oldest first; the
    admin's contact page the newest `limit` entries of one code or program."""

    newest_first: bool = False
    limit: int | None = None
    code: str = ""
    keyword_id: int | None = None

    def order(self, *fields):
        return [f"-{f}" if self.newest_first else f for f in fields]

    def apply(self, queryset, time_field, *, code_field="short_code__code", events=False):
        if self.code and code_field:
            queryset = queryset.filter(**{code_field: self.code})
        if self.keyword_id is not None and events:
            queryset = queryset.filter(Q(keyword_id=self.keyword_id) | Q(keyword__isnull=True))
        queryset = queryset.order_by(*self.order(time_field, "id"))
        return queryset[: self.limit] if self.limit else queryset


ALL = Scope()


@dataclass
class Certificate:
    phone: str
    phone_display: str
    exported_by: str
    exported_at: datetime
    time_zone: tzinfo
    states: list[Entry] = field(default_factory=list)
    stops: list[Entry] = field(default_factory=list)
    revocations: list[Entry] | None = None  # None: this portal records no revocations
    timeline: list[Entry] = field(default_factory=list)

    @property
    def time_zone_name(self) -> str:
        return str(self.time_zone)

    def local(self, value: datetime | None) -> str:
        """A time as a reader wants it: to the second, in the export's time zone."""
        if value is None:
            return ""
        return value.astimezone(self.time_zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def staff_time_zone(name: str | None) -> tzinfo:
    """The named IANA zone, else PORTAL_STAFF_TIME_ZONE (default: TIME_ZONE)."""
    for candidate in (name, getattr(settings, "PORTAL_STAFF_TIME_ZONE", ""), settings.TIME_ZONE):
        if not candidate:
            continue
        try:
            return zoneinfo.ZoneInfo(candidate)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def mask_codes(text: str) -> str:
    """Every group of exactly CODE_DIGITS digits replaced by bullets."""
    return _CODE.sub(MASK, text or "")


def _label(choices, value) -> str:
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _program(short_code, keyword) -> str:
    if keyword is None:
        return "All programs"
    return f"{keyword.title or keyword.word} ({keyword.word})"


def _event_details(event) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The staff reason and the other detail keys as (label, value), never raw JSON."""
    detail = dict(event.detail or {})
    reason = str(detail.pop("reason", "") or "")
    if event.reason and event.reason != reason:
        reason = f"{reason}; {event.reason}" if reason else event.reason
    facts = [
        (DETAIL_LABELS.get(key, key.replace("_", " ").capitalize()), str(value))
        for key, value in sorted(detail.items())
    ]
    facts.append(("Occurred at the source", event.occurred_at.isoformat()))
    if event.external_id:
        facts.append(("Message id", event.external_id))
    return reason, tuple(facts)


def _status_change(event) -> str:
    old, new = _label(Status, event.old_status), _label(Status, event.new_status)
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
        outcome = _label(Outcome, e.outcome)
        yield Entry(
            section=TIMELINE,
            entry="Consent event",
            at=e.recorded_at,
            short_code=e.short_code.code,
            program=_program(e.short_code, e.keyword),
            what=f"{_label(Action, e.action)}: {outcome}",
            status=_status_change(e),
            wording=e.consent_text,
            source=_label(Source, e.source),
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
            facts.append(("Sent at", m.sent_at.isoformat()))
        yield Entry(
            section=TIMELINE,
            entry="Text sent",
            at=m.created_at,
            short_code=m.short_code.code,
            program="All programs",
            what=_label(MessagePurpose, m.purpose),
            status=_label(MessageStatus, m.status),
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
            status=_label(SyncStatus, s.status),
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
            program=_program(sub.short_code, sub.keyword),
            status=_label(Status, sub.status),
            source=_label(Source, sub.last_source),
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
            source=_label(Source, stop.source),
            details=(("Cleared at", stop.cleared_at.isoformat()),) if stop.cleared_at else (),
        )


def open_revocations(contact) -> list[Entry] | None:
    """Revocations that still wait to be applied, or None where the portal has no
    Revocation model (installed by the revocations capability)."""
    try:
        model = apps.get_model("subscriptions", "Revocation")
    except LookupError:
        return None
    try:
        rows = list(model.objects.filter(contact=contact, applied_at__isnull=True))
    except FieldError:
        return None
    entries = []
    for r in rows:
        channel = getattr(r, "get_channel_display", lambda: "")()
        due = getattr(r, "due_by", None)
        entries.append(
            Entry(
                section=SUMMARY,
                entry="Open revocation",
                at=getattr(r, "received_at", None),
                what=f"Received by {channel}" if channel else "Received",
                status=f"Due by {due.isoformat()}" if due else "Waiting for a decision",
                wording=getattr(r, "text", ""),
                actor=getattr(r, "recorded_by_label", ""),
            )
        )
    return entries


def timeline(contact: Contact, scope: Scope = ALL) -> list[Entry]:
    """Events, texts, provider deliveries and answers of one number, merged in time order."""
    sources = [_events, _texts, _syncs, _calls]
    merged = heapq.merge(
        *(source(contact, scope) for source in sources),
        key=lambda entry: entry.at,
        reverse=scope.newest_first,
    )
    entries = list(merged)
    return entries[: scope.limit] if scope.limit else entries


def current_state(contact: Contact) -> tuple[list[Entry], list[Entry], list[Entry] | None]:
    """Subscriptions, STOPs and open revocations (None: no revocations in this portal)."""
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
