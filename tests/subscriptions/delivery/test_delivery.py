"""The outbox: outages, retries, supersede and order, permanent errors, echo, the sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.delivery import messages, policy, sweep, worker
from subscriptions.inbound import mo
from subscriptions.models import (
    MessageStatus,
    ProviderCall,
    ProviderSync,
    Status,
    Subscription,
    SyncStatus,
)
from subscriptions.providers.base import PermanentError, RetryableError
from subscriptions.providers.registry import adapter_for
from tests.factories import KeywordFactory, ProviderAccountFactory
from tests.subscriptions.conftest import DIGITS, PHONE, hanging_account, programs

pytestmark = pytest.mark.django_db


def sweep_until_quiet(start, rounds=12):
    """Run the sweeper as time passes (one hour per round) until nothing is due."""
    now = start
    for _ in range(rounds):
        now += timedelta(hours=1)
        if sweep.sweep(now=now) == (0, 0):
            return now
    raise AssertionError("the outbox never drained")


def statuses():
    return list(ProviderSync.objects.order_by("id").values_list("status", flat=True))


@pytest.fixture
def world(skycore_account):
    return programs(skycore_account, "DEALS", "NEWS", "VIP")


def test_outage_of_500s_and_timeouts_then_recovery_every_change_arrives_once(
    world, skycore, skycore_account, committed
):
    _code, (deals, news, vip) = world
    hanging_account(skycore_account, read_timeout=2)
    for keyword in (deals, news):
        with committed():
            services.opt_in(PHONE, keyword, Context(source="api"))
    skycore.fail(2, status=500)
    skycore.hang(1, seconds=30)  # far past the account's 2 s read timeout
    skycore.fail(1, status=503)

    with committed():
        services.opt_out(PHONE, deals, Context(source="web"))  # 500
    with committed():
        services.opt_in(PHONE, vip, Context(source="api"))  # 500
    with committed():
        services.opt_out(PHONE, news, Context(source="web"))  # timeout
    assert statuses() == ["succeeded", "succeeded", "superseded", "superseded", "pending"]
    waiting = ProviderSync.objects.order_by("id").last()
    assert waiting.attempts == 1 and "timeout" in waiting.last_error

    sweep_until_quiet(timezone.now())  # one 503 more, then the provider is back

    assert statuses() == ["succeeded", "succeeded", "superseded", "superseded", "succeeded"]
    waiting.refresh_from_db()
    assert waiting.attempts == 3
    # Each attempt reconciles the state of its moment; the failed ones changed nothing.
    assert skycore.calls()[2:] == [("unsubscribe", "ref-DEALS", DIGITS)] + [
        ("subscribe", "ref-VIP", DIGITS)
    ] * 4 + [("unsubscribe", "ref-DEALS", DIGITS), ("unsubscribe", "ref-NEWS", DIGITS)]
    # Only the last three requests got an answer other than an injected fault.
    assert [c.status_code for c in ProviderCall.objects.order_by("id")][2:] == [
        500,
        500,
        None,
        503,
        200,
        200,
        200,
    ]
    assert skycore.state == {
        (DIGITS, "ref-DEALS"): False,
        (DIGITS, "ref-NEWS"): False,
        (DIGITS, "ref-VIP"): True,
    }


def test_permanent_error_stops_shows_and_admin_retry_delivers_after_the_fix(
    world, skycore, skycore_account, committed
):
    _code, (deals, _news, _vip) = world
    skycore_account.set_secrets({"api_key": "revoked"})
    skycore_account.save()
    with committed():
        services.opt_in(PHONE, deals, Context(source="api"))
    sync = ProviderSync.objects.get()
    assert (sync.status, sync.attempts) == (SyncStatus.FAILED, 1)
    assert sync.last_error == "permanent error: SkyCore E104: Authentication failed"

    assert sweep.sweep(now=timezone.now() + timedelta(days=1)) == (0, 0)
    assert len(skycore.requests) == 1

    skycore_account.set_secrets({"api_key": "sky-key-123"})
    skycore_account.save()
    with committed():
        assert worker.retry([sync.pk]) == 1
    sync.refresh_from_db()
    assert (sync.status, sync.attempts) == (SyncStatus.SUCCEEDED, 1)
    assert skycore.state == {(DIGITS, "ref-DEALS"): True}


def test_retries_stop_at_the_attempt_cap(world, skycore, committed, settings):
    settings.PORTAL_DELIVERY_MAX_ATTEMPTS = 3
    _code, (deals, _news, _vip) = world
    skycore.fail(10, status=502)
    with committed():
        services.opt_in(PHONE, deals, Context(source="api"))
    sweep_until_quiet(timezone.now())

    sync = ProviderSync.objects.get()
    assert (sync.status, sync.attempts) == (SyncStatus.FAILED, 3)
    assert sync.last_error == "gave up after 3 attempts: skycore answered 502"
    assert len(skycore.requests) == 3


def test_backoff_grows_with_jitter_and_never_undercuts_retry_after(settings):
    settings.PORTAL_DELIVERY_BACKOFF_SECONDS = 10
    settings.PORTAL_DELIVERY_BACKOFF_MAX_SECONDS = 100
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        delays = {policy.backoff_seconds(attempts) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
    assert policy.backoff_seconds(1, retry_after=300) == 300
    now = timezone.now()
    assert policy.next_attempt_at(1, PermanentError("bad key"), now) is None
    assert policy.next_attempt_at(
        1, RetryableError("busy", retry_after=60), now
    ) == now + timedelta(seconds=60)


def test_a_row_waits_while_its_target_is_in_flight_and_a_lost_worker_is_redriven(
    world, skycore, django_capture_on_commit_callbacks, clock
):
    _code, (deals, news, _vip) = world
    with django_capture_on_commit_callbacks(execute=False):  # the enqueue is lost
        services.opt_in(PHONE, deals, Context(source="api"))
    first = ProviderSync.objects.get()
    now = timezone.now()
    assert worker.claim(first.pk, now) is not None  # a worker took it, then died

    with django_capture_on_commit_callbacks(execute=True):
        services.opt_in(PHONE, news, Context(source="api"))
    second = ProviderSync.objects.order_by("id").last()
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.status == SyncStatus.PENDING
    assert second.next_attempt_at == first.locked_until  # waits for the one in flight
    assert skycore.requests == []

    assert sweep.sweep() == (0, 0)  # the lease still runs
    clock.advance(past=first.locked_until)
    assert sweep.sweep() == (1, 0)  # the stuck one; it takes the waiting one along

    assert statuses() == [SyncStatus.SUCCEEDED, SyncStatus.SUPERSEDED]
    assert sorted(skycore.calls()) == [
        ("subscribe", "ref-DEALS", DIGITS),
        ("subscribe", "ref-NEWS", DIGITS),
    ]


def test_sweeper_redrives_a_lost_enqueue(world, skycore, django_capture_on_commit_callbacks):
    _code, (deals, _news, _vip) = world
    with django_capture_on_commit_callbacks(execute=False):
        services.opt_in(PHONE, deals, Context(source="api"))
    assert skycore.requests == []

    assert sweep.sweep() == (0, 0)  # its task may still be in the queue
    later = timezone.now() + policy.redrive_after()  # then it is taken as lost
    assert sweep.sweep(now=later) == (1, 0)
    assert skycore.calls() == [("subscribe", "ref-DEALS", DIGITS)]
    assert statuses() == [SyncStatus.SUCCEEDED]
    assert sweep.sweep(now=later) == (0, 0)


def test_no_echo_a_skycore_postback_change_is_not_sent_back(
    world, skycore, skycore_account, committed
):
    code, (deals, _news, _vip) = world
    console_kw = KeywordFactory(
        short_code=code,
        word="ALERTS",  # another account's program
        provider=ProviderAccountFactory(),
    )
    postback = Context(source="postback", external_id="sky-1", origin_account_id=skycore_account.pk)
    with committed():
        services.opt_in(PHONE, deals, postback)
    with committed():
        services.stop_all(
            PHONE,
            code,
            Context(
                source="postback",
                external_id="sky-2",
                origin_account_id=skycore_account.pk,
            ),
        )

    assert skycore.requests == []
    echoes = ProviderSync.objects.filter(provider=skycore_account).order_by("id")
    assert [(s.status, s.operation) for s in echoes] == [("succeeded", "echo")] * 2
    assert echoes[0].detail == "came from this provider account; not sent back"
    # Other accounts on the code still hear of the code-wide change.
    assert ProviderSync.objects.filter(provider=console_kw.account).get().status == "succeeded"

    # The portal remembers what SkyCore reported: a later portal change is still sent.
    with committed():
        services.opt_in(PHONE, deals, Context(source="web"))
    assert skycore.calls() == [("subscribe", "ref-DEALS", DIGITS)]


def test_pending_double_opt_in_is_not_an_opt_in_at_the_provider(
    skycore_account, skycore, committed
):
    code, (vip,) = programs(skycore_account, "VIP", double_opt_in=True)
    with committed():
        services.opt_in(PHONE, vip, Context(source="web"))
    assert Subscription.objects.get().status == Status.PENDING
    assert skycore.requests == []
    assert ProviderSync.objects.get().detail == "nothing to change at the provider"

    with committed():
        services.confirm(PHONE, code, Context(source="mo"))
    assert skycore.calls() == [("subscribe", "ref-VIP", DIGITS)]


def test_keyword_without_campaign_ref_stays_local_with_the_reason(
    skycore_account, skycore, committed
):
    _code, (deals,) = programs(skycore_account, "DEALS")
    deals.provider_ref = ""
    deals.save()
    with committed():
        services.opt_in(PHONE, deals, Context(source="api"))
    sync = ProviderSync.objects.get()
    assert sync.status == SyncStatus.LOCAL_ONLY
    assert "DEALS has no SkyCore CAMPAIGNREF" in sync.detail
    assert skycore.requests == []


def test_console_provider_records_what_it_would_send(committed):
    deals = KeywordFactory(word="DEALS")
    with committed():
        services.opt_in(PHONE, deals, Context(source="api"))
    sync = ProviderSync.objects.get()
    assert sync.status == SyncStatus.SUCCEEDED
    assert sync.detail == f"console: subscribe {PHONE} DEALS on {deals.short_code.code}"


def test_failed_texts_follow_the_same_retry_policy(sfmc, sfmc_account, committed):
    sfmc_account.settings = {**sfmc_account.settings, "send_message_key": "MSG"}
    sfmc_account.save()
    code, _ = programs(sfmc_account, "DEALS")
    sfmc.fault_paths = {"/sms/v1/messageContact/MSG/send"}
    sfmc.fail(1, status=500)
    with committed():
        message = messages.queue_text(PHONE, code, "Reply Y to confirm", "double_opt_in")
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
    assert message.next_attempt_at > timezone.now() and message.locked_until is None

    assert sweep.sweep(now=message.next_attempt_at + policy.redrive_after()) == (0, 1)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert sfmc.texts == [(DIGITS, "Reply Y to confirm")]


def test_sweeper_redrives_a_text_whose_worker_died_once_its_lease_ran_out(
    sfmc, sfmc_account, django_capture_on_commit_callbacks, clock
):
    sfmc_account.settings = {**sfmc_account.settings, "send_message_key": "MSG"}
    sfmc_account.save()
    code, _ = programs(sfmc_account, "DEALS")
    with django_capture_on_commit_callbacks(execute=False):  # its task runs, below, and dies
        message = messages.queue_text(PHONE, code, "Reply Y to confirm", "double_opt_in")
    now = timezone.now()
    claimed = messages._claim(message.pk, now)
    assert claimed is not None and sfmc.texts == []

    assert sweep.sweep(now=now) == (0, 0)  # the lease still runs
    # Once the lease ran out the text is re-driven at once, not after the longer wait that
    # a text never claimed (whose task may still sit in the queue) gets.
    clock.advance(past=claimed.locked_until)
    assert sweep.sweep() == (0, 1)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert sfmc.texts == [(DIGITS, "Reply Y to confirm")]


def test_a_retry_after_a_partial_failure_repeats_only_the_calls_that_failed(
    sfmc, sfmc_account, committed, django_capture_on_commit_callbacks
):
    # Each SFMC opt-in (messageContact send) texts the number: repeating one that arrived
    # would text the person twice.
    _code, (deals, news) = programs(sfmc_account, "DEALS", "NEWS")
    with django_capture_on_commit_callbacks(execute=False):
        services.opt_in(PHONE, deals, Context(source="api"))
    sfmc.fault_paths = {"/sms/v1/messageContact/ref-NEWS/send"}
    sfmc.fail(1, status=503)
    with committed():  # one delivery for both opt-ins: DEALS arrives, NEWS fails
        services.opt_in(PHONE, news, Context(source="api"))
    sync = ProviderSync.objects.get(status=SyncStatus.PENDING)
    # What the provider got, kept for the retry; a 503 does not tell whether NEWS arrived.
    assert sync.state == {str(deals.pk): True, str(news.pk): None}

    sweep_until_quiet(timezone.now())
    sends = [p for p in sfmc.paths() if "messageContact" in p]
    assert sends == [
        "/sms/v1/messageContact/ref-DEALS/send",
        "/sms/v1/messageContact/ref-NEWS/send",
        "/sms/v1/messageContact/ref-NEWS/send",
    ]
    sync.refresh_from_db()
    assert (sync.status, sync.state) == (
        SyncStatus.SUCCEEDED,
        {str(deals.pk): True, str(news.pk): True},
    )
    assert sfmc.state == {(DIGITS, "DEALS"): True, (DIGITS, "NEWS"): True}


@pytest.fixture
def sfmc_programs(sfmc_account):
    sfmc_account.settings = {**sfmc_account.settings, "send_message_key": "MSG"}
    sfmc_account.save()
    return programs(sfmc_account, "DEALS", "NEWS")


def handset(code, text):
    return mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text=text))


def test_a_handset_stop_is_not_sent_back_to_the_provider_that_received_it(
    sfmc, sfmc_programs, committed
):
    code, (deals, news) = sfmc_programs
    for keyword in (deals, news):
        with committed():
            services.opt_in(PHONE, keyword, Context(source="api"))
    ProviderSync.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    sfmc.requests.clear()

    with committed():
        outcome = handset(code, "STOP")

    # SFMC ran the code's STOP itself and texted its STOP confirmation: a queueMO STOP
    # would be a second one, and so would the portal's reply (issue 12: exactly one
    # confirmation per revocation, counting the provider's own; revocations/confirmations).
    assert [r.path for r in sfmc.requests if r.path != "/v2/token"] == []
    assert sfmc.texts == []
    assert outcome.reply == code.render(code.stop_text)  # what the person got, from SFMC
    echo = ProviderSync.objects.order_by("id").last()
    assert (echo.status, echo.operation) == (SyncStatus.SUCCEEDED, "echo")
    assert echo.state == {str(deals.pk): False, str(news.pk): False}

    with committed():  # a later change is compared with what SFMC now holds
        services.opt_in(PHONE, deals, Context(source="api"))
    assert sfmc.paths()[-1] == "/sms/v1/messageContact/ref-DEALS/send"


def handset_stop_is_sent_back(sfmc, code, committed):
    """A handset STOP the portal cannot take as SFMC's state: the portal's is sent."""
    with committed():
        handset(code, "STOP")

    assert "/sms/v1/queueMO" in sfmc.paths()
    assert sfmc.state[(DIGITS, "DEALS")] is False
    assert not ProviderSync.objects.filter(operation="echo").exists()


def test_a_handset_stop_right_after_a_delivery_is_sent_back_after_all(
    sfmc, sfmc_programs, committed
):
    code, (deals, _news) = sfmc_programs
    with committed():  # delivered now: SFMC may have applied it after the handset's STOP
        services.opt_in(PHONE, deals, Context(source="api"))

    handset_stop_is_sent_back(sfmc, code, committed)


def test_after_a_handset_stop_around_a_delivery_the_next_change_is_sent_whichever_way(
    sfmc, sfmc_programs, committed, django_capture_on_commit_callbacks
):
    code, (deals, news) = sfmc_programs
    with committed():
        services.opt_in(PHONE, deals, Context(source="api"))
    sfmc.handset_text(DIGITS, "STOP")  # SFMC applies the text, then forwards it
    with django_capture_on_commit_callbacks(execute=False):  # its delivery not yet run
        handset(code, "STOP")
    unknown = ProviderSync.objects.order_by("id").last()
    assert (unknown.status, unknown.state) == (
        SyncStatus.PENDING,
        {str(deals.pk): None, str(news.pk): None},
    )

    with committed():  # START restores DEALS: the portal's "in" was last delivered, but
        handset(code, "START")  # SFMC is out since the handset's STOP
    assert sfmc.state[(DIGITS, "DEALS")] is True
    assert sfmc.paths().count("/sms/v1/messageContact/ref-DEALS/send") == 2
    assert ProviderSync.objects.get(pk=unknown.pk).status == SyncStatus.SUPERSEDED


def test_a_handset_stop_tells_that_every_program_of_the_account_is_out_at_the_provider(
    sfmc, sfmc_programs, committed, django_capture_on_commit_callbacks
):
    code, (deals, _news) = sfmc_programs
    with committed():
        services.opt_in(PHONE, deals, Context(source="api"))
    ProviderSync.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=False):  # its delivery waits (outage)
        services.opt_out(PHONE, deals, Context(source="api"))
    sfmc.handset_text(DIGITS, "STOP")
    with committed():  # DEALS was out in the portal already: only the code-wide STOP applies
        handset(code, "STOP")
    echo = ProviderSync.objects.get(operation="echo")
    assert echo.state[str(deals.pk)] is False

    with committed():
        services.opt_in(PHONE, deals, Context(source="api"))
    assert sfmc.state[(DIGITS, "DEALS")] is True


def test_an_opt_in_whose_answer_was_lost_but_arrived_is_undone_by_the_next_opt_out(
    sfmc, sfmc_programs, committed
):
    _code, (deals, _news) = sfmc_programs
    sfmc.fault_paths = {"/sms/v1/messageContact/ref-DEALS/send"}
    sfmc.hold(1)
    with committed():  # no answer; SFMC applies it once released
        services.opt_in(PHONE, deals, Context(source="api"))
    assert sfmc.release() == 1
    assert sfmc.state[(DIGITS, "DEALS")] is True
    timed_out = ProviderSync.objects.get()
    assert (timed_out.status, timed_out.state) == (SyncStatus.PENDING, {str(deals.pk): None})

    with committed():  # before the retry: the portal cannot know DEALS is out there
        services.opt_out(PHONE, deals, Context(source="api"))

    assert sfmc.paths()[-1] == "/sms/v1/queueMO"
    assert sfmc.state[(DIGITS, "DEALS")] is False


def test_a_handset_stop_after_a_failed_delivery_attempt_is_sent_back_after_all(
    sfmc, sfmc_programs, committed
):
    code, (deals, _news) = sfmc_programs
    sfmc.fault_paths = {"/sms/v1/messageContact/ref-DEALS/send"}
    sfmc.hold(1)
    with committed():  # no answer: waits for its retry
        services.opt_in(PHONE, deals, Context(source="api"))
    sfmc.handset_text(DIGITS, "STOP")
    assert sfmc.release() == 1  # the opt-in lands after the handset's STOP
    assert sfmc.state[(DIGITS, "DEALS")] is True

    handset_stop_is_sent_back(sfmc, code, committed)


def test_a_delivery_that_ran_after_a_handset_echo_is_what_the_next_change_compares_with(
    sfmc, sfmc_programs, committed, django_capture_on_commit_callbacks
):
    code, (deals, _news) = sfmc_programs
    with django_capture_on_commit_callbacks(execute=False) as queued:  # its task waits
        services.opt_in(PHONE, deals, Context(source="api"))
    sfmc.handset_text(DIGITS, "STOP")
    with committed():  # nothing was delivered yet: SFMC's own STOP is the state (echo)
        handset(code, "STOP")
    with django_capture_on_commit_callbacks(execute=False):
        services.opt_in(PHONE, deals, Context(source="api"))
    with committed():
        for callback in queued:  # the oldest row's task runs at last and takes the newest
            callback()  # state along: DEALS is subscribed at SFMC again
    assert sfmc.state[(DIGITS, "DEALS")] is True

    with committed():
        services.opt_out(PHONE, deals, Context(source="api"))

    assert sfmc.state[(DIGITS, "DEALS")] is False


def test_a_change_whose_worker_died_mid_call_is_unknown_to_the_next_delivery(
    sfmc, sfmc_programs, django_capture_on_commit_callbacks
):
    _code, (deals, _news) = sfmc_programs
    with django_capture_on_commit_callbacks(execute=False):
        services.opt_in(PHONE, deals, Context(source="api"))
    row, rec = worker.claim(ProviderSync.objects.get().pk, timezone.now())
    adapter_for(row.provider, sync=row).reconcile(rec)  # the opt-in lands; the worker dies
    assert sfmc.state[(DIGITS, "DEALS")] is True
    with django_capture_on_commit_callbacks(execute=False):  # waits for the lease to run out
        services.opt_out(PHONE, deals, Context(source="api"))

    opt_out = ProviderSync.objects.order_by("id").last()
    after_lease = timezone.now() + policy.lease() + timedelta(seconds=1)
    assert worker.deliver_sync(opt_out.pk, now=after_lease).status == SyncStatus.SUCCEEDED

    assert sfmc.paths()[-1] == "/sms/v1/queueMO"
    assert sfmc.state[(DIGITS, "DEALS")] is False
    assert ProviderSync.objects.get(pk=row.pk).status == SyncStatus.SUPERSEDED
