"""Signed, expiring preferences links (`/preferences/link/<signed>/`)."""

from django.core import signing
from django.urls import reverse

SALT = "subscriptions.preferences.service-link"
DEFAULT_MAX_AGE = 60 * 60 * 24 * 7  # a week


def sign_phone(phone_e164):
    return signing.TimestampSigner(salt=SALT).sign(phone_e164)


def unsign_phone(token, max_age=DEFAULT_MAX_AGE):
    """The phone a link was made for; signing.BadSignature / SignatureExpired otherwise."""
    return signing.TimestampSigner(salt=SALT).unsign(token, max_age=max_age)


def preferences_link_path(phone_e164):
    return reverse("preferences-link", kwargs={"signed": sign_phone(phone_e164)})
