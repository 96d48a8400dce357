"""WhatCounts: the HTTP API of one realm (docs/providers.md "WhatCounts")."""

from subscriptions.providers.settings import TIMEOUTS, KindSettings, Secret, Setting

SETTINGS = KindSettings(
    settings=(
        Setting(
            "base_url",
            "API base URL",
            "The realm's API address, e.g. https://secure.whatcounts.com",
            kind="url",
            required=True,
        ),
        Setting("realm", "Realm", "The WhatCounts realm name.", required=True),
        *TIMEOUTS,
    ),
    secrets=(Secret("password", "API password", "The realm's API password."),),
)
