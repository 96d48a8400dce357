"""Staff admin. Consent data is read-only here: every change of consent state goes through
the services (source "admin", reason required), never through a model form."""

from subscriptions.admin import (  # noqa: F401
    consent,
    contacts,
    imports,
    inbound,
    provider_accounts,
    providers,
    reconciliation,
    revocations,
    webhooks,
)
