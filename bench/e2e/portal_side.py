"""The fault run's Django-side steps, run as subprocesses against the private cluster
(the orchestrator itself stays free of Django, so it also runs inside pytest, whose Django
is configured for the test database):

    python -m bench.e2e.portal_side seed '{"sfmc": URL, "whatcounts": URL, "skycore": URL}'
    python -m bench.e2e.portal_side snapshot --drain-timeout 120

Both print one JSON document on stdout.
"""

import argparse
import json
import sys
import time

import django

# One program per provider account on its own short code: with one program a code-level
# provider operation (SFMC STOP, WhatCounts sender code) is exactly the program's state,
# so the fakes' final state can be compared with the portal's one to one.
PROGRAMS = {
    "sfmc": {"code": "71001", "word": "DEALS", "ref": "msg-deals"},
    "whatcounts": {"code": "71002", "word": "NEWS", "ref": ""},
    "skycore": {"code": "71003", "word": "SAVE", "ref": "1478"},
}
FAKE_CREDENTIALS = {
    "sfmc": (
        {"account_id": "111", "send_message_key": "msg-send"},
        {"client_id": "sfmc-id", "client_secret": "sfmc-secret"},
    ),
    "whatcounts": ({"realm": "acme"}, {"password": "wc-pass"}),
    "skycore": ({}, {"api_key": "sky-key"}),
}
# Shorter than the delivery lease, so a hanging provider is a retry, not a stuck row.
TIMEOUTS = {"connect_timeout": 1, "read_timeout": 2}


def _base_urls(kind, url):
    if kind == "sfmc":
        return {"auth_base_url": url, "rest_base_url": url}
    if kind == "whatcounts":
        return {"base_url": url}
    return {"api_url": url + "/API/wxml/1.3/index.php"}


def seed(fake_urls):
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from subscriptions.models import Keyword, ProviderAccount, ShortCode

    call_command("migrate", verbosity=0)
    postback_tokens = {}
    for kind, url in fake_urls.items():
        settings, secrets = FAKE_CREDENTIALS[kind]
        account = ProviderAccount(
            name=f"e2e {kind}",
            kind=kind,
            settings={**settings, **_base_urls(kind, url), **TIMEOUTS},
        )
        account.set_secrets(secrets)
        account.save()
        program = PROGRAMS[kind]
        code = ShortCode.objects.create(
            code=program["code"], name=kind, brand="E2E", provider=account
        )
        Keyword.objects.create(
            short_code=code,
            word=program["word"],
            title=program["word"],
            provider_ref=program["ref"],
        )
        postback_tokens[kind] = account.postback_token
    user = User.objects.create_user("e2e-integration")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_consent", "submit_inbound"])
    )
    return {"token": Token.objects.create(user=user).key, "postback_tokens": postback_tokens}


def _undelivered():
    from subscriptions.models import MessageStatus, OutboundMessage, ProviderSync, SyncStatus

    return (
        ProviderSync.objects.filter(status__in=[SyncStatus.PENDING, SyncStatus.SENDING]).count()
        + OutboundMessage.objects.filter(status=MessageStatus.QUEUED).count()
    )


def _stuck_rows():
    """What the drain left behind, with the fields that tell why (for the report)."""
    from subscriptions.models import MessageStatus, OutboundMessage, ProviderSync, SyncStatus

    fields = ["id", "status", "attempts", "next_attempt_at", "locked_until", "last_error"]
    syncs = ProviderSync.objects.filter(
        status__in=[SyncStatus.PENDING, SyncStatus.SENDING, SyncStatus.FAILED]
    )
    texts = OutboundMessage.objects.filter(status__in=[MessageStatus.QUEUED, MessageStatus.FAILED])
    return [
        {"kind": kind, **{k: str(v) for k, v in row.items()}}
        for kind, rows in (("sync", syncs), ("text", texts))
        for row in rows.values(*fields)[:20]
    ]


def _call_failures():
    """Provider calls without a usable answer, by provider and kind: a timeout or a 5xx may
    still have been applied (the portal then treats that change as unknown)."""
    from django.db.models import Q

    from subscriptions.models import ProviderCall

    failures = {}
    for kind, status, error in ProviderCall.objects.filter(
        Q(status_code__isnull=True) | Q(status_code__gte=500)
    ).values_list("provider__kind", "status_code", "error"):
        what = str(status) if status else error.split(" calling ")[0].split(":")[0]
        by_kind = failures.setdefault(kind, {})
        by_kind[what] = by_kind.get(what, 0) + 1
    return failures


def drain(timeout):
    """Wait (bounded) until the outbox and the text queue are empty; seconds waited."""
    started = time.monotonic()
    while _undelivered() and time.monotonic() - started < timeout:
        time.sleep(1)
    return round(time.monotonic() - started, 1)


def snapshot(drain_timeout):
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from subscriptions.models import OutboundMessage, ProviderSync, Subscription, SubscriptionEvent

    waited = drain(drain_timeout)
    subscriptions = [
        {
            "id": s.pk,
            "phone": s.contact.phone,
            "code": s.short_code.code,
            "word": s.keyword.word,
            "status": s.status,
        }
        for s in Subscription.objects.select_related("contact", "short_code", "keyword")
    ]
    events = [
        {
            "id": e.pk,
            "subscription": e.subscription_id,
            "phone": e.contact.phone,
            "code": e.short_code.code,
            "word": e.keyword.word if e.keyword_id else None,
            "action": e.action,
            "old": e.old_status,
            "new": e.new_status,
            "outcome": e.outcome,
            "source": e.source,
            "occurred_at": e.occurred_at.isoformat(),
            "recorded_at": e.recorded_at.isoformat(),
            "external_id": e.external_id,
        }
        for e in SubscriptionEvent.objects.select_related(
            "contact", "short_code", "keyword"
        ).order_by("id")
    ]
    return {
        "drain_seconds": waited,
        "stuck": _stuck_rows(),
        "subscriptions": subscriptions,
        "events": events,
        "syncs": _counts(ProviderSync.objects.values("status").annotate(n=Count("id"))),
        "call_failures": _call_failures(),
        "sync_attempts": sum(ProviderSync.objects.values_list("attempts", flat=True)),
        "messages": _counts(OutboundMessage.objects.values("status").annotate(n=Count("id"))),
        "tasks": _counts(DBTaskResult.objects.values("status").annotate(n=Count("id"))),
    }


def _counts(rows):
    return {row["status"]: row["n"] for row in rows}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["seed", "snapshot"])
    parser.add_argument("fake_urls", nargs="?", default="{}")
    parser.add_argument("--drain-timeout", type=float, default=120)
    args = parser.parse_args()
    django.setup()
    if args.step == "seed":
        result = seed(json.loads(args.fake_urls))
    else:
        result = snapshot(args.drain_timeout)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
