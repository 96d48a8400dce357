"""The consumer preferences page's logic: proving a phone is held (one-time codes, rate
limits), what the signed-in page shows, and the changes it makes through the services.

One-time codes live in the shared cache (the database cache by default, Redis when
REDIS_URL is set) and rate-limit counts in `limits` (atomic, in Redis or the database), so
both hold across web processes and machines. Only an HMAC of a code is stored, never the
code.
"""

import secrets
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from subscriptions.common import limits
from subscriptions.common.errors import PortalError
from subscriptions.common.phones import national
from subscriptions.common.queueing import traced_enqueue
from subscriptions.consent import rules, selectors, services
from subscriptions.delivery import messages
from subscriptions.models import (
    Keyword,
    KeywordKind,
    MessagePurpose,
    RevocationChannel,
    ShortCode,
    ShortCodeStop,
    Source,
    Status,
    Subscription,
)
from subscriptions.preferences.tasks import send_preferences_code
from subscriptions.revocations import programs as program_revocations
from subscriptions.revocations import services as revocations

CODE_DIGITS = 6
CODE_LIFETIME = 10 * 60
MAX_ATTEMPTS = 5
SESSION_LIFETIME = 30 * 60
# (how many code requests, per how many seconds). Small per number (a person needs a code
# or two), larger per address (a household or an office shares one), against SMS pumping.
PHONE_LIMIT = (3, 15 * 60)
ADDRESS_LIMIT = (10, 60 * 60)

_SALT = "subscriptions.preferences.service"


class RateLimited(PortalError):
    """Too many code requests from this number or this client address."""


class TooManyAttempts(PortalError):
    """The code was guessed wrong too often; a new code is needed."""


def _clock():
    return time.time()


def _hmac(salt, value):
    return salted_hmac(salt, value, algorithm="sha256").hexdigest()


def _key(kind, value):
    # Cache keys carry a digest, not the phone number or the address itself.
    return f"prefs:{kind}:{_hmac(_SALT, value)[:40]}"


def _digest(phone, code):
    return _hmac(_SALT + ".code", f"{phone}:{code}")


def _over_limit(kind, value, limit):
    count, window = limit
    return limits.hit(_key(kind, value), window) > count


def request_code(phone, client_address, language):
    """Start a sign-in by code for an E.164 `phone`; the text is in `language`. Does the
    same work whether or not the number is known, so neither the answer nor its timing
    tells; the lookup and the text happen in the worker. Any earlier code stops working and
    the attempt count restarts."""
    phone_limited = _over_limit("phone", phone, PHONE_LIMIT)
    address_limited = _over_limit("address", client_address or "unknown", ADDRESS_LIMIT)
    if phone_limited or address_limited:
        raise RateLimited
    _forget_code(phone)
    transaction.on_commit(lambda: _enqueue_send_code(phone, language))


def _enqueue_send_code(phone, language):
    traced_enqueue(send_preferences_code, phone, language)


def send_code(phone, language):
    """Worker side of request_code: text a new code on a short code the number is known on;
    for an unknown number send nothing. The text is in the language the number's owner
    last signed in with, else in the page's `language`."""
    short_code = short_code_for_codes(phone)
    if short_code is None:
        return
    # Whoever typed the number on the page, the text reaches the phone's owner: their own
    # language, when known, is the one they can read.
    language = selectors.contact_by_phone(phone).locale or language
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    cache.set(
        _key("code", phone),
        {"digest": _digest(phone, code), "expires": _clock() + CODE_LIFETIME},
        timeout=CODE_LIFETIME,
    )
    with translation.override(language):
        text = _(
            "%(brand)s: your code for your text preferences is %(code)s. It expires in 10 minutes."
        ) % {"brand": short_code.brand, "code": code}
    messages.queue_text(phone, short_code, text, MessagePurpose.ONE_TIME_CODE, secret=code)


def short_code_for_codes(phone):
    """The code to text a one-time code from: where the number's consent changed last,
    preferring codes it has not sent STOP on (it asked for this text, but a code it still
    hears from is the least surprising sender)."""
    stopped = list(
        ShortCodeStop.objects.filter(contact__phone=phone, cleared_at__isnull=True).values_list(
            "short_code_id", flat=True
        )
    )
    recent_first = list(
        Subscription.objects.filter(contact__phone=phone)
        .order_by("-changed_at")
        .values_list("short_code_id", flat=True)
    )
    preferred = [c for c in recent_first if c not in stopped] + recent_first + stopped
    if not preferred:
        return None
    return ShortCode.objects.select_related("provider").get(pk=preferred[0])


def check_code(phone, code):
    """True when `code` is the live code for `phone`. Counts every attempt; after
    MAX_ATTEMPTS the code is dropped and TooManyAttempts raised until a new one is asked."""
    if _over_limit("attempts", phone, (MAX_ATTEMPTS, CODE_LIFETIME)):
        cache.delete(_key("code", phone))
        raise TooManyAttempts
    stored = cache.get(_key("code", phone))
    # An unknown number has no stored code; compare anyway so both paths cost the same.
    digest = stored["digest"] if stored and stored["expires"] > _clock() else ""
    if constant_time_compare(digest, _digest(phone, code)):
        _forget_code(phone)
        return True
    return False


def _forget_code(phone):
    """Drop the live code and its attempt count: a used or replaced code never works again
    and the next code gets MAX_ATTEMPTS of its own."""
    cache.delete(_key("code", phone))
    limits.reset(_key("attempts", phone))


# The signed-in page ---------------------------------------------------------------------


@dataclass
class ProgramRow:
    keyword: Keyword
    status: str | None  # None: never joined
    waiting: bool  # pending inside the confirmation window
    wording: str  # shown beside the switch, recorded as the consent text

    @property
    def is_on(self):
        return self.status == Status.OPTED_IN or self.waiting


@dataclass
class CodeGroup:
    short_code: ShortCode
    stopped: bool
    stop_wording: str
    programs: list = field(default_factory=list)


def page_for(phone):
    """Every short code the number is known on, with its programs (joined or public), in a
    constant number of queries whatever the number of codes and programs."""
    contact = selectors.contact_by_phone(phone)
    if contact is None:
        return []
    subs = selectors.subscriptions_of(contact)
    stopped_ids = {s.short_code_id for s in selectors.active_stops_of(contact)}
    code_ids = {s.short_code_id for s in subs} | stopped_ids
    joined = {s.keyword_id: s for s in subs}
    for sub in subs:  # the code is already loaded beside the keyword: no query per program
        sub.keyword.short_code = sub.short_code
    public = (
        Keyword.objects.select_related("short_code")
        .filter(short_code_id__in=code_ids, kind=KeywordKind.PROGRAM, is_public=True)
        .exclude(pk__in=joined)
    )
    keywords = sorted(
        [s.keyword for s in subs] + list(public),
        key=lambda k: (k.short_code.code, k.display_title.lower()),
    )
    groups = {}
    for keyword in keywords:
        code = keyword.short_code
        if code.pk not in groups:
            groups[code.pk] = CodeGroup(code, code.pk in stopped_ids, stop_all_wording(code, phone))
        groups[code.pk].programs.append(_row(keyword, joined.get(keyword.pk), phone))
    return list(groups.values())


def _row(keyword, sub, phone):
    status = sub.status if sub else None
    waiting = status == Status.PENDING and rules.in_window(
        sub.pending_since, keyword.short_code.double_opt_in_window_hours, timezone.now()
    )
    # A switch that is on (in, or waiting for the reply) offers to leave; otherwise to join.
    wording = (
        leave_wording(keyword, phone)
        if status == Status.OPTED_IN or waiting
        else join_wording(keyword, phone)
    )
    return ProgramRow(keyword, status, waiting, wording)


def program_for(phone, keyword_id):
    """A program this number may switch on the page: one it has a subscription to, or a
    public one on a code it is known on. None otherwise."""
    keyword = (
        Keyword.objects.select_related("short_code__provider", "provider")
        .filter(pk=keyword_id, kind=KeywordKind.PROGRAM)
        .first()
    )
    if keyword is None:
        return None
    known = Subscription.objects.filter(contact__phone=phone)
    if known.filter(keyword=keyword).exists():
        return keyword
    on_known_code = (
        known.filter(short_code_id=keyword.short_code_id).exists()
        or ShortCodeStop.objects.filter(
            contact__phone=phone, short_code_id=keyword.short_code_id, cleared_at__isnull=True
        ).exists()
    )
    return keyword if keyword.is_public and on_known_code else None


def short_code_of(phone, short_code_id):
    """A short code this number is known on, or None."""
    return (
        ShortCode.objects.filter(pk=short_code_id)
        .filter(Q(subscriptions__contact__phone=phone) | Q(stops__contact__phone=phone))
        .distinct()
        .first()
    )


# The wording shown beside each control is the consent text recorded with the change, so
# the page and the history are made from the same function.


def join_wording(keyword, phone):
    """CTIA's opt-in disclosure: program name, frequency, "Msg & data rates may apply",
    HELP and STOP, and where the terms and the privacy policy are."""
    code = keyword.short_code
    parts = [
        _(
            "By joining, you agree to receive recurring automated text messages from "
            "%(brand)s (%(program)s) at %(phone)s from %(code)s. Consent is not a condition "
            "of purchase. Msg & data rates may apply. Reply HELP for help, STOP to cancel."
        )
        % {
            "brand": code.brand,
            "program": keyword.display_title,
            "phone": national(phone),
            "code": code.code,
        },
        _("Message frequency: %(frequency)s.") % {"frequency": keyword.frequency.rstrip(".")}
        if keyword.frequency
        else _("Message frequency varies."),
    ]
    if code.terms_url:
        parts.append(_("Terms: %(url)s") % {"url": code.terms_url})
    if code.privacy_url:
        parts.append(_("Privacy: %(url)s") % {"url": code.privacy_url})
    return " ".join(parts)


def leave_wording(keyword, phone):
    return _("Stop texts about %(program)s from %(brand)s to %(phone)s.") % {
        "program": keyword.display_title,
        "brand": keyword.short_code.brand,
        "phone": national(phone),
    }


def stop_all_wording(short_code, phone):
    return _("Stop all texts from %(brand)s on %(code)s to %(phone)s, for every program.") % {
        "brand": short_code.brand,
        "code": short_code.code,
        "phone": national(phone),
    }


@dataclass(frozen=True)
class Visitor:
    """The evidence the web records with every change: who (verified phone), from where."""

    phone: str
    ip_address: str | None
    user_agent: str
    # The staff member whose preferences link opened the session: the change is theirs,
    # made on the person's behalf, and recorded so (source admin), not as the person's own.
    assisted_by: str = ""

    @property
    def channel(self):
        """How the revocation of a change made here arrived: the person on the web, or
        staff on their behalf."""
        return RevocationChannel.STAFF if self.assisted_by else RevocationChannel.WEB

    def context(self, consent_text):
        if self.assisted_by:
            return services.Context(
                source=Source.ADMIN,
                consent_text=consent_text,
                ip_address=self.ip_address,
                user_agent=self.user_agent,
                actor_label=self.assisted_by[:150],
                reason=f"staff-assisted change on the preferences page of {self.phone} "
                f"(link issued by {self.assisted_by})"[:255],
                detail={"assisted_by": self.assisted_by, "via": "preferences link"},
            )
        return services.Context(
            source=Source.WEB,
            consent_text=consent_text,
            ip_address=self.ip_address,
            user_agent=self.user_agent,
            actor_label=self.phone,
        )


@transaction.atomic
def join(visitor, keyword):
    """Join a program; the double opt-in prompt or the welcome text goes out with it."""
    result = services.opt_in(
        visitor.phone, keyword, visitor.context(join_wording(keyword, visitor.phone))
    )
    if result.changed:
        code = keyword.short_code
        pending = result.changed[0].new_status == Status.PENDING
        template, purpose = (
            (code.double_opt_in_prompt, MessagePurpose.DOUBLE_OPT_IN)
            if pending
            else (code.opt_in_text, MessagePurpose.CONFIRMATION)
        )
        messages.queue_text(
            visitor.phone, code, code.render(template, keyword.display_title), purpose
        )
    return result


# Leaving a program and stopping a code are the person's revocations (FCC 24-24): recorded
# as such (channel web, or staff for an assisted session), with their one confirmation, the
# wording they chose as their words.


def leave(visitor, keyword):
    wording = leave_wording(keyword, visitor.phone)
    return program_revocations.revoke_programs(
        visitor.phone,
        [keyword],
        channel=visitor.channel,
        text=wording,
        ctx=visitor.context(wording),
    )


def stop_all(visitor, short_code):
    wording = stop_all_wording(short_code, visitor.phone)
    return revocations.record_revocation(
        visitor.phone,
        channel=visitor.channel,
        text=wording,
        ctx=visitor.context(wording),
        short_code=short_code,
    )
