"""Phone number parsing: every number enters the portal through `normalize`.

North American numbers written plainly (+1NXXXXXXXXX, 1NXXXXXXXXX, and NXXXXXXXXX in a
+1 region; N = 2-9: an area code), nearly all the portal sees, take a regular-expression
fast path that gives the same answer as phonenumbers (tests/subscriptions/common/
test_phones.py compares them) at a fraction of the cost; everything else is parsed by phonenumbers.
"""

import re
from functools import cache

import phonenumbers
from django.conf import settings

from subscriptions.common.errors import PortalError

_PLUS_NANP = re.compile(r"\+1([2-9][0-9]{9})")
_DIGITS_NANP = re.compile(r"1?([2-9][0-9]{9})")


@cache
def _nanp_region(region):
    return phonenumbers.country_code_for_region(region) == 1


class InvalidPhone(PortalError, ValueError):
    """The text is not a phone number we can text."""


def national(phone: str) -> str:
    """+15555551212 -> (555) 555-1212, as people write their own number; anything that does
    not parse stays as stored."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def normalize(raw, region=None):
    """Return the E.164 form of `raw`.

    Accepts E.164 ("+15555551212"), digits with country code as SFMC and SkyCore send them
    ("15555551212") and national format in the default region ("(555) 555-1212").

    The number must be complete for its region: one that phonenumbers finds possible only
    as a local number (7 digits in the US: no area code) is refused. Full validity is not
    required, so the seed documents' example numbers (+1 650 111 2222, +1 555 555 1212)
    and the demo's 555 numbers keep working.
    """
    text = str(raw or "").strip()
    if not text:
        raise InvalidPhone("A phone number is required.")
    if len(text) > 32:
        raise InvalidPhone("That is too long to be a phone number.")
    region = region or settings.PORTAL_DEFAULT_REGION
    return _fast(text, region) or _slow(text, region)


def _slow(text, region):
    """phonenumbers' answer for a stripped, non-empty text of at most 32 characters."""
    candidates = [(text, None)] if text.startswith("+") else [(text, region), ("+" + text, None)]
    for candidate, candidate_region in candidates:
        try:
            number = phonenumbers.parse(candidate, candidate_region)
        except phonenumbers.NumberParseException:
            continue
        reason = phonenumbers.is_possible_number_with_reason(number)
        if reason == phonenumbers.ValidationResult.IS_POSSIBLE:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhone(f"{text!r} is not a valid phone number.")


def _fast(text, region):
    """The E.164 form of a well-formed North American number, or None (ask phonenumbers)."""
    if text[0] == "+":
        match = _PLUS_NANP.fullmatch(text)
    else:
        match = _DIGITS_NANP.fullmatch(text) if _nanp_region(region) else None
    return "+1" + match[1] if match else None


def normalize_many(raws, region=None) -> list[str | None]:
    """`normalize` of each of `raws`, None for one that does not parse: the batch form,
    with the fast path inlined (a call and a regular expression search less per number, on
    ten thousand numbers a request)."""
    region = region or settings.PORTAL_DEFAULT_REGION
    plus = _PLUS_NANP.fullmatch
    digits = _DIGITS_NANP.fullmatch if _nanp_region(region) else None
    answers = []
    for raw in raws:
        text = raw.strip() if isinstance(raw, str) else str(raw or "").strip()
        if text[:1] == "+":
            if plus(text):
                answers.append(text)  # already E.164
                continue
        elif digits is not None and (match := digits(text)):
            answers.append("+1" + match[1])
            continue
        try:
            answers.append(normalize(text, region))
        except InvalidPhone:
            answers.append(None)
    return answers
