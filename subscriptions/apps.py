from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "SMS consent"

    def ready(self):
        # Importing these registers the system checks, the metrics and the signal receivers.
        from subscriptions import checks  # noqa: F401
        from subscriptions.common import memo_signals  # noqa: F401
        from subscriptions.delivery import receivers  # noqa: F401
        from subscriptions.reporting import metrics  # noqa: F401
        from subscriptions.revocations import measure  # noqa: F401
        from subscriptions.webhooks import receivers as webhook_receivers  # noqa: F401
