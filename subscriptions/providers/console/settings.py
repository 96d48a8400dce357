"""The console provider needs no settings: it records what it would send in the database
and the log (development and the demo)."""

from subscriptions.providers.settings import KindSettings

SETTINGS = KindSettings()
