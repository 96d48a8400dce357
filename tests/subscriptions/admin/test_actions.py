"""Every admin action: a reason page first, then the services with source "admin"."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.core import signing
from django.utils import timezone

from subscriptions.models import (
    Action,
    Contact,
    ProviderSync,
    Revocation,
    ShortCodeStop,
    Status,
    Subscription,
    SubscriptionEvent,
    SyncStatus,
)
from subscriptions.preferences import links

pytestmark = pytest.mark.django_db
SUBS = "/admin/subscriptions/subscription/"


def act(client, url, action, objects, follow=False, **extra):
    return client.post(
        url,
        {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objects], **extra},
        follow=follow,
    )


def test_opt_out_asks_for_a_reason_then_goes_through_the_services(client, marketing, member, deals):
    sub = Subscription.objects.get(keyword=deals)
    page = act(client, SUBS, "opt_out", [sub])
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    assert sub.__class__.objects.get(pk=sub.pk).status == Status.OPTED_IN

    blank = act(client, SUBS, "opt_out", [sub], reason="   ")
    assert blank.status_code == 200 and b"This field is required" in blank.content
    assert Subscription.objects.get(pk=sub.pk).status == Status.OPTED_IN

    done = act(client, SUBS, "opt_out", [sub], reason="Caller asked on the phone")
    assert done.status_code == 302
    assert Subscription.objects.get(pk=sub.pk).status == Status.OPTED_OUT
    event = SubscriptionEvent.objects.get(source="admin")
    assert (event.action, event.new_status, event.actor, event.detail["reason"]) == (
        Action.OPT_OUT,
        Status.OPTED_OUT,
        marketing,
        "Caller asked on the phone",
    )
    assert Subscription.objects.get(keyword__word="NEWS").status == Status.OPTED_IN


def test_stop_all_opts_out_every_program_on_the_code_and_records_a_stop(
    client, marketing, member, deals
):
    sub = Subscription.objects.get(keyword=deals)
    act(client, SUBS, "stop_all", [sub], reason="Complaint by email")
    assert set(Subscription.objects.values_list("status", flat=True)) == {Status.OPTED_OUT}
    assert ShortCodeStop.objects.get(cleared_at__isnull=True).source == "admin"
    assert SubscriptionEvent.objects.filter(source="admin", action=Action.STOP_ALL).count() == 3


def test_retry_provider_sync_makes_failed_syncs_due_now(client, marketing, member, deals, code):
    contact = Contact.objects.get(phone=member)
    later = timezone.now() + timezone.timedelta(hours=5)
    failed = ProviderSync.objects.create(
        contact=contact,
        short_code=code,
        provider=code.provider,
        status=SyncStatus.FAILED,
        attempts=8,
        next_attempt_at=later,
        last_error="HTTP 401",
    )
    done = ProviderSync.objects.create(
        contact=contact,
        short_code=code,
        provider=code.provider,
        status=SyncStatus.SUCCEEDED,
        next_attempt_at=later,
    )
    before = timezone.now()
    act(
        client,
        SUBS,
        "retry_provider_sync",
        [Subscription.objects.get(keyword=deals)],
        reason="Credentials fixed",
    )
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.status == SyncStatus.PENDING and failed.next_attempt_at >= before
    assert (done.status, done.next_attempt_at) == (SyncStatus.SUCCEEDED, later)
    assert LogEntry.objects.get().change_message == "Provider sync retried: Credentials fixed"

    failed.status = SyncStatus.FAILED
    failed.save()
    act(
        client,
        "/admin/subscriptions/providersync/",
        "retry_selected_syncs",
        [failed],
        reason="Again",
    )
    failed.refresh_from_db()
    assert failed.status == SyncStatus.PENDING


def test_preferences_link_action_shows_a_signed_link_and_logs_the_reason(client, marketing, member):
    contact = Contact.objects.get(phone=member)
    response = act(
        client,
        "/admin/subscriptions/contact/",
        "preferences_link",
        [contact],
        reason="Caller wants to manage texts",
        follow=True,
    )
    text = next(str(m) for m in response.context["messages"])
    url = text.split(": ", 2)[2]
    signed = url.rstrip("/").rsplit("/", 1)[1]
    assert url.startswith("http://testserver/preferences/link/")
    assert links.unsign_phone(signed) == member
    assert LogEntry.objects.get().change_message == (
        "Preferences link issued: Caller wants to manage texts"
    )
    with pytest.raises(signing.BadSignature):
        links.unsign_phone(signed + "x")


def test_actions_refuse_more_rows_than_a_staff_action_takes(
    client, marketing, member, deals, monkeypatch
):
    from subscriptions.admin import actions

    monkeypatch.setattr(actions, "MAX_ROWS", 1)
    response = client.post(
        SUBS,
        {"action": "opt_out", "select_across": "1", ACTION_CHECKBOX_NAME: [0], "reason": "bulk"},
        follow=True,
    )
    assert "More than 1 rows selected" in next(str(m) for m in response.context["messages"])
    assert not SubscriptionEvent.objects.filter(source="admin").exists()


def test_a_staff_opt_out_or_stop_is_recorded_as_a_revocation_by_staff(
    client, marketing, member, deals
):
    sub = Subscription.objects.get(keyword=deals)
    act(client, SUBS, "opt_out", [sub], reason="Caller asked on the phone")
    act(client, SUBS, "stop_all", [sub], reason="Email: please stop everything")

    program, code = Revocation.objects.order_by("id")
    assert [(r.channel, r.text, r.recorded_by) for r in (program, code)] == [
        ("staff", "Caller asked on the phone", marketing),
        ("staff", "Email: please stop everything", marketing),
    ]
    assert [k.word for k in program.keywords.all()] == ["DEALS"]
    assert [c.code for c in code.short_codes.all()] == [deals.short_code.code]
    assert code.applied_at is not None and code.due_by > code.received_at
