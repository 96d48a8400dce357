"""The read side: sendability, a contact's subscriptions, history queries."""

from dataclasses import dataclass

from django.db.models import Q, Value

from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.consent import rules
from subscriptions.models import (
    Contact,
    Keyword,
    KeywordKind,
    Revocation,
    RevocationVerdict,
    ShortCode,
    ShortCodeStop,
    Status,
    Subscription,
    SubscriptionEvent,
)

STOPPED = "stopped"


@dataclass(frozen=True)
class Sendable:
    phone: str
    short_code: str
    keyword: str | None
    sendable: bool
    reason: str


def program(short_code: ShortCode, word: str) -> Keyword:
    """The program keyword `word` on a code (case-insensitive); Keyword.DoesNotExist if none."""
    return Keyword.objects.select_related("short_code__provider", "provider").get(
        short_code=short_code, word=word.strip().upper(), kind=KeywordKind.PROGRAM
    )


def program_by_ref(short_code: ShortCode, account, provider_ref: str) -> Keyword | None:
    """The program on a code that `account` knows as `provider_ref` (a SkyCore CAMPAIGNREF),
    or None. A keyword without its own provider belongs to the short code's account."""
    owned = Q(provider=account) | Q(provider__isnull=True, short_code__provider=account)
    return (
        Keyword.objects.select_related("short_code__provider", "provider")
        .filter(owned, short_code=short_code, kind=KeywordKind.PROGRAM, provider_ref=provider_ref)
        .order_by("id")
        .first()
    )


def sendable(phone, short_code: ShortCode, keyword: Keyword | None = None) -> Sendable:
    return sendable_many([phone], short_code, keyword)[0]


def sendable_many(phones, short_code: ShortCode, keyword: Keyword | None = None):
    """Sendability of many numbers on one code (and keyword) in two queries, in input
    order. Numbers that do not parse raise InvalidPhone naming the first bad one."""
    normalized = []
    for raw in phones:
        try:
            normalized.append(normalize(raw))
        except InvalidPhone as exc:
            raise InvalidPhone(f"{raw!r}: {exc}") from exc
    unique = list(dict.fromkeys(normalized))
    subs = Subscription.objects.filter(short_code=short_code, contact__phone__in=unique)
    if keyword is not None:
        subs = subs.filter(keyword=keyword)
    statuses = {}
    for phone, status in subs.values_list("contact__phone", "status"):
        statuses.setdefault(phone, set()).add(status)
    # Active STOPs and revocations under review (a pause), in one query.
    stops = (
        ShortCodeStop.objects.filter(
            short_code=short_code, cleared_at__isnull=True, contact__phone__in=unique
        )
        .values_list("contact__phone", Value(STOPPED))
        .order_by()
    )
    reviews = (
        Revocation.objects.filter(
            short_codes=short_code,
            contact__phone__in=unique,
            verdict=RevocationVerdict.REVIEW,
            decision__isnull=True,
        )
        .values_list("contact__phone", Value(rules.REVIEW))
        .order_by()
    )
    stopped, paused = set(), set()
    for phone, why in stops.union(reviews):
        (stopped if why == STOPPED else paused).add(phone)
    word = keyword.word if keyword else None
    answers = {}
    for phone in unique:
        reason = rules.best_reason(
            statuses.get(phone, set()), phone in stopped, review=phone in paused
        )
        answers[phone] = Sendable(phone, short_code.code, word, reason == Status.OPTED_IN, reason)
    return [answers[p] for p in normalized]


def contact_by_phone(phone):
    """The contact for a number in any accepted format, or None."""
    return Contact.objects.filter(phone=normalize(phone)).first()


def subscriptions_of(contact):
    return list(
        Subscription.objects.filter(contact=contact)
        .select_related("keyword", "short_code")
        .order_by("short_code__code", "keyword__word")
    )


def active_stops_of(contact):
    return list(
        ShortCodeStop.objects.filter(contact=contact, cleared_at__isnull=True)
        .select_related("short_code")
        .order_by("short_code__code")
    )


def history(*, phone=None, short_code=None, keyword=None, source=None, since=None):
    """History rows, newest first, filtered; a queryset so callers can paginate."""
    events = SubscriptionEvent.objects.select_related("contact", "short_code", "keyword")
    if phone:
        events = events.filter(contact__phone=normalize(phone))
    if short_code:
        events = events.filter(short_code__code=short_code)
    if keyword:
        events = events.filter(keyword__word=keyword.strip().upper())
    if source:
        events = events.filter(source=source)
    if since:
        events = events.filter(recorded_at__gte=since)
    return events.order_by("-recorded_at", "-id")
