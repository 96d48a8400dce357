"""Salesforce Marketing Cloud MobileConnect: one installed package's API integration in one
business unit (docs/providers.md "SFMC")."""

from subscriptions.providers.settings import TIMEOUTS, KindSettings, Secret, Setting

SETTINGS = KindSettings(
    settings=(
        Setting(
            "auth_base_url",
            "Auth base URL",
            "The installed package's authentication base URI, "
            "https://<subdomain>.auth.marketingcloudapis.com",
            kind="url",
            required=True,
        ),
        Setting(
            "rest_base_url",
            "REST base URL",
            "The REST base URI, https://<subdomain>.rest.marketingcloudapis.com",
            kind="url",
            required=True,
        ),
        Setting(
            "account_id",
            "Account id (MID)",
            "The MID of the business unit whose keywords this account changes; the token is "
            "specific to it.",
            required=True,
        ),
        Setting(
            "send_message_key",
            "Send message key",
            "The API key of an outbound message on the code with 'override' allowed; the "
            "portal sends its texts (codes, replies) through it.",
        ),
        *TIMEOUTS,
    ),
    secrets=(
        Secret("client_id", "Client id", "The API integration's client id."),
        Secret("client_secret", "Client secret", "The API integration's client secret."),
    ),
)
