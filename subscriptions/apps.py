from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "SMS consent"

    def ready(self):
        from subscriptions import checks, metrics, receivers  # noqa: F401  (registers checks, receivers)
