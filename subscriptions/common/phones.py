"""Phone number parsing: every number enters the portal through `normalize`."""

import phonenumbers
from django.conf import settings

from subscriptions.common.errors import PortalError


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
