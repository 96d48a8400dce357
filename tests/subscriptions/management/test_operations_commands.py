from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.utils import timezone

from subscriptions.common import crypto, limits
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import (
    IdempotencyKey,
    ProviderAccount,
    ProviderCall,
    RateLimitCounter,
    Source,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory, ProviderAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_prune_logs_deletes_old_call_logs_and_keeps_history():
    account = ProviderAccountFactory()
    services.opt_in("+15555551212", KeywordFactory(), Context(source=Source.WEB))
    old = ProviderCall.objects.create(provider=account, method="POST", url="https://x/old")
    ProviderCall.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    recent = ProviderCall.objects.create(provider=account, method="POST", url="https://x/new")
    user = UserFactory()
    stale_key = IdempotencyKey.objects.create(
        user=user, key="old", fingerprint="f", status_code=201
    )
    IdempotencyKey.objects.filter(pk=stale_key.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    live_key = IdempotencyKey.objects.create(user=user, key="new", fingerprint="f", status_code=201)
    limits.hit("ended", 60)
    RateLimitCounter.objects.filter(key="ended").update(expires_at=timezone.now())
    limits.hit("live", 60)
    out = StringIO()
    call_command("prune_logs", "--dry-run", stdout=out)
    assert "would delete 1 provider calls" in out.getvalue()
    assert "would delete 1 idempotency keys" in out.getvalue()
    assert "would delete 1 expired rate-limit counters" in out.getvalue()
    assert (
        ProviderCall.objects.count(),
        IdempotencyKey.objects.count(),
        RateLimitCounter.objects.count(),
    ) == (2, 2, 2)
    call_command("prune_logs", stdout=out)
    assert list(ProviderCall.objects.values_list("pk", flat=True)) == [recent.pk]
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [live_key.pk]
    assert list(RateLimitCounter.objects.values_list("key", flat=True)) == ["live"]
    assert SubscriptionEvent.objects.count() == 1


def test_rotate_secrets_re_encrypts_with_the_newest_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [old]
    account = ProviderAccountFactory(kind="skycore")
    account.set_secrets({"api_key": "k-123"})
    account.save()
    settings.PORTAL_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets", stdout=StringIO())
    settings.PORTAL_ENCRYPTION_KEYS = [new]
    assert ProviderAccount.objects.get().secrets == {"api_key": "k-123"}
    assert crypto.decrypt_json(ProviderAccount.objects.get().secrets_encrypted)
