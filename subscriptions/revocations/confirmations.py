"""Exactly one confirmation text per revocation, never marketing (47 CFR 64.1200(a)(12)).

Who sends it depends on the provider account that runs the short code:
- SFMC and WhatCounts text their own STOP confirmation, both when the handset's stop word
  reached them (they apply it before forwarding it) and when the portal's opt-out reaches
  them (SFMC processes a queueMO STOP as a handset STOP; WhatCounts' smsstopsubscribersend
  sends its stop message). The portal then sends none.
- SkyCore (the portal unsubscribes with NOTIFY=no) and the console provider send none: the
  portal texts the short code's stop text (delivery.messages.queue_text, after commit).
- An opt-out the portal will not send at all (the provider is known to hold the number out
  already) gets no provider text either, so the portal sends its own.
- A revocation that changed nothing (a STOP already active on every code of its scope:
  the same person again) gets none: its confirmation went out the first time.
"""

from subscriptions.delivery.state import known_state
from subscriptions.models import Confirmation, ProviderKind

SELF_CONFIRMING = frozenset({ProviderKind.SFMC, ProviderKind.WHATCOUNTS})


def provider_confirms(contact, short_code, *, provider_applied: bool) -> bool:
    """Does the account running `short_code` text the person a STOP confirmation itself?"""
    account = short_code.provider
    if account.kind not in SELF_CONFIRMING:
        return False
    if provider_applied:
        return True
    known = known_state(contact.pk, short_code.pk, account.pk)
    # In (True) or unknown (None) there: the portal's opt-out is sent, and it texts.
    return any(value is not False for value in known.values())


def who_confirms(contact, changed_codes, *, provider_applied: bool = False) -> str:
    """The Confirmation of a revocation that changed `changed_codes` (in scope order)."""
    if not changed_codes:
        return Confirmation.NONE
    if any(
        provider_confirms(contact, code, provider_applied=provider_applied)
        for code in changed_codes
    ):
        return Confirmation.PROVIDER
    return Confirmation.PORTAL


def confirmation_text(short_code) -> str:
    """The short code's stop text: no marketing, nothing but the confirmation."""
    return short_code.render(short_code.stop_text)
