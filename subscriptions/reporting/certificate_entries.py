"""The building blocks of a consent certificate and of the contact page's timeline: the
`Entry` rows (human labels, times as datetimes), the `Scope` of a read, the `Certificate`
they are gathered in, and how times are shown (to the second, in the reader's time zone)."""

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from django.conf import settings
from django.db.models import Q

from subscriptions.preferences.service import CODE_DIGITS

CHUNK = 2000
MASK = "•" * CODE_DIGITS
_CODE = re.compile(rf"(?<!\d)\d{{{CODE_DIGITS}}}(?!\d)")

TIME_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
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


Fact = tuple[str, str | datetime]


@dataclass(frozen=True)
class Entry:
    """One line of the certificate. `at` is None for summary lines without a time. A fact's
    value is a datetime when it is a time, so every renderer shows it in the reader's zone."""

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
    details: tuple[Fact, ...] = ()


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
    revocations: list[Entry] = field(default_factory=list)
    timeline: list[Entry] = field(default_factory=list)

    @property
    def time_zone_name(self) -> str:
        return str(self.time_zone)

    def local(self, value: datetime | None) -> str:
        """A time as a reader wants it: to the second, in the export's time zone."""
        return local_time(value, self.time_zone)

    def facts(self, entry: Entry) -> list[tuple[str, str]]:
        return shown_facts(entry, self.time_zone)


def local_time(value: datetime | None, tz: tzinfo) -> str:
    """A time to the second in `tz`, with the zone's abbreviation (never microseconds)."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime(TIME_FORMAT)


def shown_facts(entry: Entry, tz: tzinfo) -> list[tuple[str, str]]:
    """An entry's non-empty facts as text, their times in `tz`."""
    return [
        (label, local_time(value, tz) if isinstance(value, datetime) else value)
        for label, value in entry.details
        if value
    ]


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


def label(choices, value) -> str:
    """The human label of a choice value (the value itself if it is no longer a choice)."""
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def program_label(keyword) -> str:
    if keyword is None:
        return "All programs"
    return f"{keyword.title or keyword.word} ({keyword.word})"
