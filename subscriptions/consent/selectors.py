"""The read side: sendability, a contact's subscriptions, history queries."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Q, QuerySet, Value

from subscriptions.common import memo
from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.consent import rules
from subscriptions.models import (
    Contact,
    Keyword,
    KeywordKind,
    ProviderAccount,
    Revocation,
    RevocationDecision,
    RevocationVerdict,
    ShortCode,
    ShortCodeStop,
    Status,
    Subscription,
    SubscriptionEvent,
)

STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Sendable:
    phone: str
    short_code: str
    keyword: str | None
    sendable: bool
    reason: str


def short_code_by_code(code: str) -> ShortCode | None:
    """The short code `code` with its provider account, or None; kept per process
    (subscriptions.common.memo, dropped on any catalog change)."""
    return memo.lookup(
        memo.CATALOG,
        ("code", code),
        lambda: ShortCode.objects.select_related("provider").filter(code=code).first(),
    )


def program(short_code: ShortCode, word: str) -> Keyword:
    """The program keyword `word` on a code (case-insensitive); Keyword.DoesNotExist if none.
    Kept per process like short codes."""
    word = word.strip().upper()
    keyword = memo.lookup(
        memo.CATALOG,
        ("program", short_code.pk, word),
        lambda: (
            Keyword.objects.select_related("short_code__provider", "provider")
            .filter(short_code=short_code, word=word, kind=KeywordKind.PROGRAM)
            .first()
        ),
    )
    if keyword is None:
        raise Keyword.DoesNotExist(f"No program keyword {word!r} on {short_code.code}.")
    return keyword


def program_by_ref(
    short_code: ShortCode, account: ProviderAccount, provider_ref: str
) -> Keyword | None:
    """The program on a code that `account` knows as `provider_ref` (a SkyCore CAMPAIGNREF),
    or None. A keyword without its own provider belongs to the short code's account."""
    owned = Q(provider=account) | Q(provider__isnull=True, short_code__provider=account)
    return (
        Keyword.objects.select_related("short_code__provider", "provider")
        .filter(owned, short_code=short_code, kind=KeywordKind.PROGRAM, provider_ref=provider_ref)
        .order_by("id")
        .first()
    )


INVALID = "invalid"
_STOPPED = "stopped"  # the marker row of an active STOP in the union below
_REVIEW = "review"  # the marker row of a revocation under review (a pause) on the code


def _states(phones, short_code: ShortCode, keyword: Keyword | None):
    """{phone: set of statuses, plus "stopped" for an active STOP and "review" for a
    revocation under review} in one query: the subscriptions, the stops and the open reviews
    of the numbers on the code, as one UNION ALL. Each side goes
    through the unique phone index to the contacts, then by contact id to the rows (the
    indexes (contact, short_code) and one_active_stop_per_code): no scan of the code."""
    if connection.vendor == "postgresql":
        rows = _states_rows_postgresql(phones, short_code, keyword)
    else:
        subs = Subscription.objects.filter(short_code=short_code, contact__phone__in=phones)
        if keyword is not None:
            subs = subs.filter(keyword=keyword)
        stops = ShortCodeStop.objects.filter(
            short_code=short_code, cleared_at__isnull=True, contact__phone__in=phones
        ).annotate(state=Value(_STOPPED, output_field=CharField()))
        reviews = Revocation.objects.filter(
            short_codes=short_code,
            contact__phone__in=phones,
            verdict=RevocationVerdict.REVIEW,
            decision__isnull=True,
        ).annotate(state=Value(_REVIEW, output_field=CharField()))
        # .order_by(): models' default orderings are not allowed inside a compound query.
        rows = (
            subs.values_list("contact__phone", "status")
            .order_by()
            .union(
                stops.values_list("contact__phone", "state").order_by(),
                reviews.values_list("contact__phone", "state").order_by(),
                all=True,
            )
        )
    states = {}
    for phone, state in rows:
        states.setdefault(phone, set()).add(state)
    return states


def _states_rows_postgresql(phones, short_code, keyword):
    """The same UNION ALL with the numbers as one array parameter (`= ANY(...)`, ten
    thousand numbers are one value to plan, not ten thousand literals) and the contacts
    found once for both sides."""
    contact, sub, stop = (m._meta.db_table for m in (Contact, Subscription, ShortCodeStop))
    revocation, decision = Revocation._meta.db_table, RevocationDecision._meta.db_table
    scope = Revocation.short_codes.through._meta.db_table
    program = "AND s.keyword_id = %(keyword)s" if keyword is not None else ""
    sql = f"""
        WITH c AS MATERIALIZED (
            SELECT id, phone FROM {contact} WHERE phone = ANY(string_to_array(%(phones)s, ','))
        )
        SELECT c.phone, s.status FROM c
        JOIN {sub} s ON s.contact_id = c.id AND s.short_code_id = %(code)s {program}
        UNION ALL
        SELECT c.phone, %(stopped)s FROM c
        JOIN {stop} t ON t.contact_id = c.id AND t.short_code_id = %(code)s
            AND t.cleared_at IS NULL
        UNION ALL
        SELECT c.phone, %(review)s FROM c
        JOIN {revocation} r ON r.contact_id = c.id AND r.verdict = %(review_verdict)s
        JOIN {scope} rs ON rs.revocation_id = r.id AND rs.shortcode_id = %(code)s
        WHERE NOT EXISTS (SELECT 1 FROM {decision} d WHERE d.revocation_id = r.id)"""
    params = {
        "code": short_code.pk,
        "keyword": keyword.pk if keyword is not None else None,
        "phones": ",".join(phones),  # E.164: no commas; one text is cheaper than an array
        "stopped": _STOPPED,
        "review": _REVIEW,
        "review_verdict": RevocationVerdict.REVIEW,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sendable(phone: str, short_code: ShortCode, keyword: Keyword | None = None) -> Sendable:
    """One number's answer, in one query. InvalidPhone when it does not parse."""
    normalized = normalize(phone)
    states = _states([normalized], short_code, keyword).get(normalized, set())
    return _answer(normalized, short_code, keyword, states)


def _verdict(states) -> tuple[bool, str]:
    reason = rules.best_reason(
        states - {_STOPPED, _REVIEW}, _STOPPED in states, review=_REVIEW in states
    )
    return reason == Status.OPTED_IN, reason


def _answer(phone, short_code, keyword, states) -> Sendable:
    word = keyword.word if keyword else None
    return Sendable(phone, short_code.code, word, *_verdict(states))


def sendable_many(
    phones: list[str], short_code: ShortCode, keyword: Keyword | None = None
) -> list[Sendable]:
    """Sendability of many numbers on one code (and keyword) in one query, in input order.
    A number that does not parse is answered on its own (sendable false, reason "invalid",
    the text as given) and its neighbours are answered as usual."""
    region = settings.PORTAL_DEFAULT_REGION
    normalized = []
    for raw in phones:
        try:
            normalized.append(normalize(raw, region))
        except InvalidPhone:
            normalized.append(None)
    unique = list(dict.fromkeys(p for p in normalized if p is not None))
    states = _states(unique, short_code, keyword) if unique else {}
    code, word = short_code.code, keyword.word if keyword else None
    verdicts = {}  # a handful of distinct state sets: each decided once
    none = frozenset()
    answers = []
    for raw, phone in zip(phones, normalized, strict=True):
        if phone is None:
            answers.append(Sendable(str(raw), code, word, False, INVALID))
            continue
        found = frozenset(states.get(phone, none))
        if (verdict := verdicts.get(found)) is None:
            verdict = verdicts[found] = _verdict(found)
        answers.append(Sendable(phone, code, word, *verdict))
    return answers


def contact_by_phone(phone: str) -> Contact | None:
    """The contact for a number in any accepted format, or None."""
    return Contact.objects.filter(phone=normalize(phone)).first()


def subscriptions_of(contact: Contact) -> list[Subscription]:
    return list(
        Subscription.objects.filter(contact=contact)
        .select_related("keyword", "short_code")
        .order_by("short_code__code", "keyword__word")
    )


def active_stops_of(contact: Contact) -> list[ShortCodeStop]:
    return list(
        ShortCodeStop.objects.filter(contact=contact, cleared_at__isnull=True)
        .select_related("short_code")
        .order_by("short_code__code")
    )


def history(
    *,
    phone: str | None = None,
    short_code: ShortCode | None = None,
    keyword: Keyword | None = None,
    source: str | None = None,
    since: datetime | None = None,
) -> QuerySet[SubscriptionEvent]:
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
