"""The registry of provider kinds' declarations (settings, secrets, postback path).
Adding a provider is one package under providers/ and one line here and in registry.py."""

from subscriptions.models.choices import ProviderKind
from subscriptions.providers.console.settings import SETTINGS as CONSOLE
from subscriptions.providers.settings import KindSettings
from subscriptions.providers.sfmc.settings import SETTINGS as SFMC
from subscriptions.providers.skycore.settings import SETTINGS as SKYCORE
from subscriptions.providers.whatcounts.settings import SETTINGS as WHATCOUNTS

SETTINGS: dict[str, KindSettings] = {
    ProviderKind.CONSOLE: CONSOLE,
    ProviderKind.SFMC: SFMC,
    ProviderKind.SKYCORE: SKYCORE,
    ProviderKind.WHATCOUNTS: WHATCOUNTS,
}


def for_kind(kind: str) -> KindSettings:
    return SETTINGS[kind]
