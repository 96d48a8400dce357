"""The read side: sendability, a contact's subscriptions, history queries."""

from contextlib import nullcontext
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, Q, QuerySet, Value

from subscriptions.common import memo
from subscriptions.common.phones import normalize, normalize_many
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


class Sendable(NamedTuple):
    """One number's answer. A named tuple, not a dataclass: a batch makes ten thousand."""

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
JIT_SAFE_NUMBERS = 100  # a lookup of this many numbers or fewer never nears jit_above_cost
_STOPPED = "stopped"  # the word of an active STOP on the code
_REVIEW = "review"  # the word of a revocation under review (a pause) on the code


def _state_words(phones, short_code: ShortCode, keyword: Keyword | None) -> dict[str, str]:
    """{phone: the words of its states on the code, space-separated}, in one query: the
    statuses of its subscriptions (of `keyword` when given), "stopped" for an active STOP
    and "review" for a revocation under review. A number with no contact is absent."""
    if connection.vendor == "postgresql":
        return _state_words_postgresql(phones, short_code, keyword)
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
    words = {}
    for phone, state in rows:
        words[phone] = f"{words[phone]} {state}" if phone in words else state
    return words


# One row per known number, its states as one short text: ten thousand rows of two short
# texts are the cheapest answer to fetch. Each number is looked up on its own, through the
# unique phone index and then by contact id (the LATERAL ... OFFSET 0 and the subqueries
# are run per number: whatever the planner estimates, no scan and no hash of a whole code's
# rows, which at a million subscriptions cost seconds). JIT is off for a batch's statement:
# on a ten-thousand-number batch PostgreSQL's estimate crosses jit_above_cost and compiling
# took longer than the lookups (a few numbers' estimate stays far below it). SET LOCAL ends
# with the transaction around the two statements (or the caller's).
_STATES_SQL = """
    SELECT c.phone, concat_ws(' ',
        array_to_string(ARRAY(
            SELECT s.status FROM {sub} s
            WHERE s.contact_id = c.id AND s.short_code_id = %(code)s {program}), ' '),
        CASE WHEN EXISTS (
            SELECT 1 FROM {stop} t
            WHERE t.contact_id = c.id AND t.short_code_id = %(code)s AND t.cleared_at IS NULL
        ) THEN %(stopped)s END,
        CASE WHEN EXISTS (
            SELECT 1 FROM {revocation} r
            JOIN {scope} rs ON rs.revocation_id = r.id AND rs.shortcode_id = %(code)s
            WHERE r.contact_id = c.id AND r.verdict = %(review_verdict)s
                AND NOT EXISTS (SELECT 1 FROM {decision} d WHERE d.revocation_id = r.id)
        ) THEN %(review)s END)
    FROM unnest(string_to_array(%(phones)s, ',')) AS p(phone)
    CROSS JOIN LATERAL (SELECT id, phone FROM {contact} WHERE phone = p.phone OFFSET 0) c"""


def _state_words_postgresql(phones, short_code, keyword):
    sql = _STATES_SQL.format(
        contact=Contact._meta.db_table,
        sub=Subscription._meta.db_table,
        stop=ShortCodeStop._meta.db_table,
        revocation=Revocation._meta.db_table,
        decision=RevocationDecision._meta.db_table,
        scope=Revocation.short_codes.through._meta.db_table,
        program="AND s.keyword_id = %(keyword)s" if keyword is not None else "",
    )
    params = {
        "code": short_code.pk,
        "keyword": keyword.pk if keyword is not None else None,
        # Sorted: neighbouring lookups share index pages. E.164 has no commas, and one text
        # is cheaper to send and plan than an array of ten thousand.
        "phones": ",".join(sorted(phones)),
        "stopped": _STOPPED,
        "review": _REVIEW,
        "review_verdict": RevocationVerdict.REVIEW,
    }
    batch = len(phones) > JIT_SAFE_NUMBERS
    with transaction.atomic() if batch else nullcontext(), connection.cursor() as cursor:
        if batch:
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def sendable(phone: str, short_code: ShortCode, keyword: Keyword | None = None) -> Sendable:
    """One number's answer, in one query. InvalidPhone when it does not parse."""
    normalized = normalize(phone)
    words = _state_words([normalized], short_code, keyword).get(normalized, "")
    word = keyword.word if keyword else None
    return Sendable(normalized, short_code.code, word, *_verdict(words))


def _verdict(words: str) -> tuple[bool, str]:
    states = set(words.split())
    reason = rules.best_reason(
        states - {_STOPPED, _REVIEW}, _STOPPED in states, review=_REVIEW in states
    )
    return reason == Status.OPTED_IN, reason


def sendable_many(
    phones: list[str], short_code: ShortCode, keyword: Keyword | None = None
) -> list[Sendable]:
    """Sendability of many numbers on one code (and keyword) in one query, in input order.
    A number that does not parse is answered on its own (sendable false, reason "invalid",
    the text as given) and its neighbours are answered as usual."""
    normalized = normalize_many(phones, settings.PORTAL_DEFAULT_REGION)
    unique = set(normalized)
    unique.discard(None)
    words = _state_words(unique, short_code, keyword) if unique else {}
    code, word = short_code.code, keyword.word if keyword else None
    invalid = (code, word, False, INVALID)
    verdicts = {}  # a handful of distinct state texts: each decided once
    answers = []
    for raw, phone in zip(phones, normalized, strict=True):
        if phone is None:
            answers.append(Sendable._make((str(raw), *invalid)))
            continue
        found = words.get(phone, "")
        if (verdict := verdicts.get(found)) is None:
            verdict = verdicts[found] = (code, word, *_verdict(found))
        # _make: a third of the cost of Sendable(...) with its keyword-capable __new__.
        answers.append(Sendable._make((phone, *verdict)))
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
