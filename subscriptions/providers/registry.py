"""Adapter registry by provider kind."""

from subscriptions.providers.console.adapter import ConsoleAdapter
from subscriptions.providers.sfmc.adapter import SfmcAdapter
from subscriptions.providers.skycore.adapter import SkyCoreAdapter
from subscriptions.providers.whatcounts.adapter import WhatCountsAdapter

ADAPTERS = {
    adapter.kind: adapter
    for adapter in (ConsoleAdapter, SfmcAdapter, SkyCoreAdapter, WhatCountsAdapter)
}


def adapter_for(account, **links):
    """The adapter for a ProviderAccount; `links` (sync=, message=) tag its call log rows."""
    try:
        return ADAPTERS[account.kind](account, **links)
    except KeyError:
        raise LookupError(f"No adapter for provider kind {account.kind!r}.") from None
