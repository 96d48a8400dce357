"""The `data` of each event type. Revocation and drift objects come from other capabilities
(revocations/, reconciliation/), so their serializers are defensive: they take whatever of
the documented attributes the object has, and never fail on one it lacks."""

from datetime import date, datetime
from decimal import Decimal

from django.db import models

from subscriptions.models import SubscriptionEvent


def consent_changed(event: SubscriptionEvent) -> dict:
    """docs/api.md: {event_id, phone, short_code, keyword, action, old_status, new_status,
    source, occurred_at, recorded_at}."""
    return {
        "event_id": event.pk,
        "phone": event.contact.phone,
        "short_code": event.short_code.code,
        "keyword": event.keyword.word if event.keyword_id else None,
        "action": event.action,
        "old_status": event.old_status or None,
        "new_status": event.new_status or None,
        "source": event.source,
        "occurred_at": _value(event.occurred_at),
        "recorded_at": _value(event.recorded_at),
    }


REVOCATION_FIELDS = (
    "id",
    "phone",
    "channel",
    "status",
    "text",
    "received_at",
    "due_by",
    "applied_at",
    "decided_at",
    "decision",
    "reason",
    "short_code",
    "brand",
    "scope",
)
DRIFT_FIELDS = (
    "id",
    "reconciliation",
    "phone",
    "short_code",
    "keyword",
    "portal",
    "provider",
    "action",
    "created_at",
)


def revocation(obj) -> dict:
    return _pick(obj, REVOCATION_FIELDS)


def drift(obj) -> dict:
    data = _pick(obj, DRIFT_FIELDS)
    account = getattr(obj, "account", None) or getattr(obj, "provider_account", None)
    if account is not None and "provider_account" not in data:
        data["provider_account"] = _value(account)
    return data


def phone_of(obj) -> str:
    """The number an object is about: its `phone`, or its contact's."""
    phone = getattr(obj, "phone", None)
    if not phone:
        phone = getattr(getattr(obj, "contact", None), "phone", None)
    return str(phone) if phone else ""


def _pick(obj, names):
    data = {}
    for name in names:
        if name == "phone":
            phone = phone_of(obj)
            if phone:
                data["phone"] = phone
            continue
        try:
            value = getattr(obj, name)
        except Exception:  # a missing relation, a property that fails: leave it out
            continue
        if callable(value) and not hasattr(value, "all"):
            continue
        data[name] = _value(value)
    return data


def _value(value):
    """JSON for what a model attribute may hold."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _value(item) for key, item in value.items()}
    if hasattr(value, "all") and callable(value.all):  # a related manager
        return [_value(item) for item in value.all()]
    for name in ("code", "word", "phone"):  # a short code, a keyword, a contact
        if isinstance(getattr(value, name, None), str):
            return getattr(value, name)
    if isinstance(value, models.Model):
        return value.pk
    return str(value)
