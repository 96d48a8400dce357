"""Staff admin. Consent data is read-only here: every change of consent state goes through
the services (source "admin", reason required), never through a model form."""

from subscriptions.admin import consent, imports, inbound, providers, revocations  # noqa: F401
