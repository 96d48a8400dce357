"""Postback URLs and their tokens (SkyCore signs nothing: the token in the URL is the
secret). Whoever holds the URL can forge a provider's postbacks, so it is shown only to
staff who may change provider accounts (admin and API), and it can be rotated: the old
URL stops working at once; the new one must then be entered at the provider.
"""

import logging
import secrets

from django.conf import settings

from subscriptions.models import ProviderAccount

logger = logging.getLogger("subscriptions.providers")

MAY_SEE = "subscriptions.change_provideraccount"


def may_see(user) -> bool:
    """Whether `user` may see (and rotate) postback URLs."""
    return bool(user and user.is_authenticated and user.has_perm(MAY_SEE))


def postback_path(account: ProviderAccount) -> str | None:
    path = account.kind_settings.postback_path  # providers/<kind>/settings.py
    return path.format(token=account.postback_token) if path else None


def postback_url(account: ProviderAccount, request=None) -> str | None:
    """The absolute postback URL of `account` (None for kinds without postbacks)."""
    path = postback_path(account)
    if path is None:
        return None
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def rotate(account: ProviderAccount, actor=None) -> str:
    """Give `account` a new postback token (the old URL answers 404 from now on)."""
    account.postback_token = secrets.token_urlsafe(24)
    ProviderAccount.objects.filter(pk=account.pk).update(postback_token=account.postback_token)
    logger.warning(
        "postback token of provider account %s rotated by %s",
        account.pk,
        getattr(actor, "username", None) or "system",
    )
    return account.postback_token
