"""Endpoint health: since when an endpoint fails, and disabling one that failed for a day."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mail_admins

from subscriptions.common import memo
from subscriptions.models import WebhookEndpoint

logger = logging.getLogger("subscriptions.webhooks")


def endpoint_health(endpoint: WebhookEndpoint, ok: bool, now: datetime) -> None:
    """Remember since when an endpoint fails (a batch with one success is not failing); one
    failing for a day is disabled and staff are told (log and mail to ADMINS). Its
    undelivered rows wait for it to be enabled."""
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if ok:
        if endpoint.failing_since is not None:  # as read by the claim: no write per success
            endpoints.update(failing_since=None)
            endpoint.failing_since = None
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    window = timedelta(hours=settings.PORTAL_WEBHOOKS_DISABLE_AFTER_HOURS)
    reason = f"failing since more than {settings.PORTAL_WEBHOOKS_DISABLE_AFTER_HOURS:g} hours"
    disabled = endpoints.filter(is_active=True, failing_since__lte=now - window).update(
        is_active=False, disabled_at=now, disabled_reason=reason
    )
    if disabled:
        memo.invalidate(memo.WEBHOOKS)  # an update() sends no signal
        endpoint.is_active = False
        tell_staff(endpoint, reason)


def tell_staff(endpoint: WebhookEndpoint, reason: str) -> None:
    message = (
        f"The webhook endpoint #{endpoint.pk} ({endpoint.url}) was disabled: {reason}. "
        "Its undelivered events wait; enable it again in the admin to resume."
    )
    logger.error(message)
    try:
        mail_admins("Webhook endpoint disabled", message)
    except Exception:  # mail is a courtesy: the log line and the admin already tell
        logger.exception("could not mail the admins about webhook endpoint #%s", endpoint.pk)
