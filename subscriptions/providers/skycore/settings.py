"""SkyCore: the wXML API with an API key; status changes come back as Opt-in Status
Postbacks to the account's postback URL (docs/providers.md "SkyCore"; SkyCore's Opt-in
Postback API document, seed 003)."""

from subscriptions.providers.settings import TIMEOUTS, KindSettings, Secret, Setting

SETTINGS = KindSettings(
    settings=(
        Setting(
            "api_url",
            "API URL",
            "The wXML endpoint (default https://secure.skycore.com/API/wxml/1.3/index.php).",
            kind="url",
        ),
        *TIMEOUTS,
    ),
    secrets=(Secret("api_key", "API key", "The account's wXML API key."),),
    postback_path="/webhooks/skycore/{token}/",
)
