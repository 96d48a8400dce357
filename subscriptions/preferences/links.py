"""Signed, expiring preferences links (`/preferences/link/<signed>/`).

Only staff issue links (the admin action, `manage.py preferences_link`), for a person they
are helping: a link names who issued it, and every change made in a session it opened is
recorded as that staff member's assisted change (source admin), not as the person's own web
action (issue 16).
"""

from django.core import signing
from django.urls import reverse

SALT = "subscriptions.preferences.service-link"
DEFAULT_MAX_AGE = 60 * 60 * 24 * 7  # a week
UNNAMED_ISSUER = "staff (preferences link)"


def sign_phone(phone_e164, issued_by=""):
    signer = signing.TimestampSigner(salt=SALT)
    return signer.sign_object({"phone": phone_e164, "by": issued_by or UNNAMED_ISSUER})


def unsign_link(token, max_age=DEFAULT_MAX_AGE):
    """(phone, who issued the link); signing.BadSignature / SignatureExpired otherwise.
    Links made before issuers were named carry only the phone."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        return signer.unsign(token, max_age=max_age), UNNAMED_ISSUER
    if not isinstance(value, dict) or not isinstance(value.get("phone"), str):
        raise signing.BadSignature("Not a preferences link.")
    return value["phone"], str(value.get("by") or UNNAMED_ISSUER)[:150]


def unsign_phone(token, max_age=DEFAULT_MAX_AGE):
    """The phone a link was made for; signing.BadSignature / SignatureExpired otherwise."""
    return unsign_link(token, max_age)[0]


def preferences_link_path(phone_e164, issued_by=""):
    return reverse("preferences-link", kwargs={"signed": sign_phone(phone_e164, issued_by)})
