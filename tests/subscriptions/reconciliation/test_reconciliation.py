"""Reconciliation against the fake providers: drift made at the fake is found and the
opt-out sent again, numbers in step are not reported, a dry run sends nothing, a run that
died resumes without reading its finished batches again, 429s and 5xx are waited out with
one token, and providers without a read API get their opt-outs sent again, paced."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.consent.signals import drift_found
from subscriptions.models import (
    Contact,
    Drift,
    ProviderSync,
    Reconciliation,
    RunStatus,
    Status,
    Subscription,
)
from subscriptions.reconciliation import run as runs
from subscriptions.reconciliation import service
from subscriptions.reconciliation.record import OPERATION
from tests.fakes.sfmc import LOOKUP
from tests.subscriptions.conftest import programs

pytestmark = pytest.mark.django_db

A, B, C, D = "+15555550101", "+15555550102", "+15555550103", "+15555550104"


def digits(phone):
    return phone.lstrip("+")


class Sleeps:
    """An injected sleep: records the waits, never waits."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def drift_rows(reconciliation):
    return sorted(
        (d.contact.phone, d.keyword.word, d.portal, d.provider, d.action)
        for d in Drift.objects.filter(reconciliation=reconciliation).select_related(
            "contact", "keyword"
        )
    )


def api(phone, service_call, target):
    service_call(phone, target, Context(source="api"))  # not committed: nothing delivered


@pytest.fixture
def sfmc_world(sfmc, sfmc_account):
    code, (deals, news) = programs(sfmc_account, "DEALS", "NEWS")
    sfmc.short_codes.update({"DEALS": code.code, "NEWS": code.code})
    return code, deals, news


def test_drift_made_at_sfmc_is_found_and_the_opt_out_sent_again(sfmc, sfmc_account, sfmc_world):
    code, deals, news = sfmc_world
    api(A, services.opt_out, deals)  # out at the portal, a journey re-subscribed it at SFMC
    sfmc.set_held(digits(A), "DEALS", True)
    api(B, services.opt_in, deals)  # in step
    sfmc.set_held(digits(B), "DEALS", True)
    api(C, services.opt_in, news)  # in at the portal, SFMC lost it: reported, never opted in
    api(D, services.opt_in, deals)  # joined NEWS at SFMC directly: reported
    sfmc.set_held(digits(D), "DEALS", True)
    sfmc.set_held(digits(D), "NEWS", True)
    found = []
    drift_found.connect(
        lambda sender, drift, **kw: found.append(
            (drift.action, transaction.get_connection().in_atomic_block)
        ),
        weak=False,
        dispatch_uid="test-drift",
    )
    try:
        with transaction.atomic():
            reconciliation = service.start(sfmc_account, enqueue=False)
        done = runs.run(reconciliation.pk, sleep=Sleeps())
    finally:
        drift_found.disconnect(dispatch_uid="test-drift")

    assert done.status == RunStatus.DONE
    assert drift_rows(done) == [
        (A, "DEALS", "out", "in", "opt_out_sent"),
        (C, "NEWS", "in", "out", "reported"),
        (D, "NEWS", "unknown", "in", "reported"),
    ]
    assert (done.checked, done.in_step, done.drift) == (4, 1, 3)
    assert sorted(found) == [("opt_out_sent", True), ("reported", True), ("reported", True)]
    sent = [body for path, body in sfmc.rest_calls() if path != LOOKUP]
    assert sent == [{"shortCode": code.code, "messageText": "STOP", "mobileNumbers": [digits(A)]}]
    assert sfmc.state[(digits(A), "DEALS")] is False
    assert not sfmc.state.get((digits(C), "NEWS"))  # never an automatic opt-in
    sync = ProviderSync.objects.get(operation=OPERATION)
    assert sync.status == "succeeded" and sync.contact.phone == A


def test_a_dry_run_reports_and_sends_nothing(sfmc, sfmc_account, sfmc_world):
    _code, deals, _news = sfmc_world
    api(A, services.opt_out, deals)
    sfmc.set_held(digits(A), "DEALS", True)

    reconciliation = service.start(sfmc_account, dry_run=True, enqueue=False)
    done = runs.run(reconciliation.pk, sleep=Sleeps())

    assert done.dry_run and done.status == RunStatus.DONE
    assert drift_rows(done) == [(A, "DEALS", "out", "in", "opt_out_sent")]
    assert [path for path, _body in sfmc.rest_calls()] == [LOOKUP]
    assert sfmc.state[(digits(A), "DEALS")] is True
    assert not ProviderSync.objects.filter(operation=OPERATION).exists()


class Killed(BaseException):
    """The worker is killed (not an error the run could record)."""


def many_subscribers(keyword, count):
    contacts = Contact.objects.bulk_create(Contact(phone=f"+1555770{n:04d}") for n in range(count))
    now = timezone.now()
    Subscription.objects.bulk_create(
        Subscription(
            contact=contact,
            keyword=keyword,
            short_code=keyword.short_code,
            status=Status.OPTED_IN,
            last_occurred_at=now,
            last_source="api",
        )
        for contact in contacts
    )
    return contacts


def test_a_run_killed_mid_way_resumes_without_reading_finished_batches_again(
    sfmc, sfmc_account, sfmc_world
):
    _code, deals, _news = sfmc_world
    contacts = many_subscribers(deals, 1100)  # batches of 500, 500, 100
    for contact in contacts:
        sfmc.state[(digits(contact.phone), "DEALS")] = True
    reconciliation = service.start(sfmc_account, enqueue=False)

    def kill_after_first(run):
        raise Killed

    with pytest.raises(Killed):
        runs.run(reconciliation.pk, sleep=Sleeps(), on_batch=kill_after_first)
    reconciliation.refresh_from_db()
    assert reconciliation.status == RunStatus.RUNNING and reconciliation.checked == 500
    first = sfmc.lookups()
    assert [len(numbers) for numbers in first] == [500]
    # Its lease still runs: nobody else takes it. Once it ran out, the sweeper re-drives it.
    assert runs.run(reconciliation.pk) is None
    later = reconciliation.locked_until + timedelta(seconds=1)
    assert runs.stale_runs(later) == [reconciliation.pk]

    done = runs.run(reconciliation.pk, now=later, sleep=Sleeps())

    assert done.status == RunStatus.DONE
    assert (done.checked, done.in_step, done.drift) == (1100, 1100, 0)
    again = sfmc.lookups()[1:]
    assert [len(numbers) for numbers in again] == [500, 100]
    read = [n for numbers in sfmc.lookups() for n in numbers]
    assert sorted(read) == sorted(digits(c.phone) for c in contacts)  # each read once
    assert done.batches.count() == 3


def test_429_and_5xx_mid_run_are_waited_out_with_one_token(sfmc, sfmc_account, sfmc_world):
    _code, deals, _news = sfmc_world
    many_subscribers(deals, 1100)
    sfmc.fault_paths = {LOOKUP}
    sfmc.fail(1, status=429, headers={"Retry-After": "7"}, after=1)
    sfmc.fail(2, status=503)
    sleeps = Sleeps()

    done = runs.run(service.start(sfmc_account, enqueue=False).pk, sleep=sleeps)

    assert done.status == RunStatus.DONE and done.checked == 1100
    # The second batch: 429 (its Retry-After), then two 503s (backoff of attempts 2 and 3).
    assert sleeps.waits == [7.0, 2.0, 4.0]
    assert len(sfmc.token_requests()) == 1
    assert [len(numbers) for numbers in sfmc.lookups()] == [500, 500, 500, 500, 500, 100]
    assert sfmc.lookups()[1] == sfmc.lookups()[3]  # the same batch asked again


def test_a_provider_failing_for_good_fails_the_run_with_its_reason(
    sfmc, sfmc_account, sfmc_world, settings
):
    settings.PORTAL_RECONCILE_MAX_RETRIES = 2
    _code, deals, _news = sfmc_world
    api(A, services.opt_in, deals)
    sfmc.fault_paths = {LOOKUP}
    sfmc.fail(5, status=500)

    done = runs.run(service.start(sfmc_account, enqueue=False).pk, sleep=Sleeps())

    assert done.status == RunStatus.FAILED and "500" in done.failure
    assert "csecret" not in done.failure


def test_skycore_has_no_read_api_so_every_opt_out_it_may_hold_is_sent_again_paced(
    skycore, skycore_account, settings
):
    settings.PORTAL_RECONCILE_RESEND_PER_SECOND = 4
    code, (deals, _news) = programs(skycore_account, "DEALS", "NEWS")
    api(A, services.opt_out, deals)
    api(B, services.opt_in, deals)
    services.stop_all(C, code, Context(source="api"))
    skycore.state[(digits(A), "ref-DEALS")] = True  # re-subscribed in SkyCore's console
    sleeps = Sleeps()

    done = runs.run(
        service.start(skycore_account, enqueue=False).pk, sleep=sleeps, clock=lambda: 100.0
    )

    assert done.status == RunStatus.DONE
    assert sorted(skycore.calls()) == [
        ("unsubscribe", "ref-DEALS", digits(A)),
        ("unsubscribe", "ref-DEALS", digits(C)),
        ("unsubscribe", "ref-NEWS", digits(C)),
    ]
    assert skycore.state[(digits(A), "ref-DEALS")] is False
    assert drift_rows(done) == [
        (A, "DEALS", "out", "unknown", "opt_out_sent"),
        (C, "DEALS", "out", "unknown", "opt_out_sent"),
        (C, "NEWS", "out", "unknown", "opt_out_sent"),
    ]
    assert sleeps.waits == [0.25]  # two deliveries (A; C's two programs), a quarter second apart
    assert done.provider_calls == 2


def test_whatcounts_has_no_read_api_so_its_opt_outs_are_sent_again(whatcounts, whatcounts_account):
    code, (deals,) = programs(whatcounts_account, "DEALS")
    api(A, services.opt_out, deals)
    api(B, services.opt_in, deals)
    whatcounts.state.add((digits(A), code.code))

    done = runs.run(service.start(whatcounts_account, enqueue=False).pk, sleep=Sleeps())

    assert done.status == RunStatus.DONE
    assert whatcounts.calls() == [("smsstopsubscribersend", digits(A), code.code)]
    assert (digits(A), code.code) not in whatcounts.state
    assert drift_rows(done) == [(A, "DEALS", "out", "unknown", "opt_out_sent")]


def test_a_dry_run_against_skycore_sends_nothing(skycore, skycore_account):
    _code, (deals,) = programs(skycore_account, "DEALS")
    api(A, services.opt_out, deals)

    done = runs.run(service.start(skycore_account, dry_run=True, enqueue=False).pk)

    assert (
        skycore.calls() == []
        and done.drift == 1
        and not ProviderSync.objects.filter(operation=OPERATION).exists()
    )


def test_a_short_code_the_account_does_not_serve_is_refused(sfmc_account, skycore_account):
    code, _keywords = programs(skycore_account, "DEALS")
    with pytest.raises(service.ScopeError):
        service.start(sfmc_account, short_code=code)
    assert not Reconciliation.objects.exists()
