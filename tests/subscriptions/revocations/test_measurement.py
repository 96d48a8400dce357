"""Measurement: received_at -> applied_at and received_at -> every provider in step (the
Prometheus histograms, the RevocationInStep row written once) and the dashboard's numbers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.common.errors import AppendOnlyViolation
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.delivery import record, worker
from subscriptions.inbound import mo
from subscriptions.models import (
    ProviderSync,
    Revocation,
    RevocationInStep,
    Source,
    SyncStatus,
)
from subscriptions.reporting.metrics import PROCESS_REGISTRY
from subscriptions.revocations import selectors
from subscriptions.revocations import services as revocations
from tests.factories import KeywordFactory, UserFactory
from tests.subscriptions.api.conftest import token_client
from tests.subscriptions.conftest import programs

pytestmark = pytest.mark.django_db
PHONE = "+16501112222"


def observed(channel, path):
    """(sum of seconds, count) of the histogram for these labels."""
    labels = {"channel": channel, "path": path}
    name = "portal_revocation_apply_seconds"
    return (
        PROCESS_REGISTRY.get_sample_value(f"{name}_sum", labels) or 0.0,
        PROCESS_REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0,
    )


def test_apply_times_go_to_the_histogram_and_the_dashboard():
    keyword = KeywordFactory()
    code = keyword.short_code
    services.opt_in(PHONE, keyword, Context(source=Source.API))
    _, letters_before = observed("letter", "at_receipt")
    _, decided_before = observed("sms", "decided")
    week_ago = timezone.now() - timedelta(days=7)

    revocations.record_revocation(
        PHONE,
        channel="letter",
        text="Please stop texting me. -- J.",
        ctx=Context(source=Source.ADMIN, actor=UserFactory(), reason="letter"),
        short_code=code,
        received_at=week_ago,
    )
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested"))
    mo.handle_mo(mo.MoText(phone="+16501113333", short_code=code, text="wrong number"))
    numbers = selectors.dashboard_numbers()
    assert (numbers.due, numbers.overdue, numbers.applied_last_30_days) == (2, 0, 1)
    assert numbers.median_seconds_to_apply == pytest.approx(7 * 86400, abs=60)

    review = Revocation.objects.filter(contact__phone=PHONE, verdict="review").get()
    revocations.decide(review.pk, "revoke", "means stop", actor=UserFactory())

    sum_letters, letters = observed("letter", "at_receipt")
    assert letters == letters_before + 1 and sum_letters >= 7 * 86400
    assert observed("sms", "decided")[1] == decided_before + 1
    later = selectors.dashboard_numbers(now=timezone.now() + timedelta(days=20))
    assert (later.due, later.overdue) == (1, 1)
    assert [r.current_status for r in selectors.queue(now=timezone.now() + timedelta(days=20))][
        :1
    ] == ["open"]


# Every provider in step --------------------------------------------------------------

IN_STEP = "portal_revocation_in_step_seconds"
E107 = (
    "<RESPONSE><STATUS>Failure</STATUS><ERRORCODE>E107</ERRORCODE>"
    "<ERRORINFO>No rights to this action</ERRORINFO></RESPONSE>"
)


def in_step_count(channel, path="at_receipt"):
    labels = {"channel": channel, "path": path}
    return PROCESS_REGISTRY.get_sample_value(f"{IN_STEP}_count", labels) or 0.0


@pytest.fixture
def shared(sfmc_account, skycore_account, committed):
    """A code of SFMC with a SkyCore program on it; PHONE in both, delivered."""
    code, (deals,) = programs(sfmc_account, "DEALS")
    sky = KeywordFactory(short_code=code, word="SKY", provider=skycore_account, provider_ref="77")
    for keyword in (deals, sky):
        with committed():
            services.opt_in(PHONE_ONE, keyword, Context(source=Source.API))
    return code, deals, sky


PHONE_ONE = "+15555550100"


def phone_call(code=None):
    return revocations.record_revocation(
        PHONE_ONE,
        channel="phone_call",
        text="stop texting me",
        ctx=Context(source=Source.ADMIN, actor=UserFactory(), reason="call"),
        short_code=code,
    )


def fresh(revocation):
    return Revocation.objects.get(pk=revocation.pk)


def test_in_step_is_written_once_when_the_last_provider_acknowledges(
    shared, sfmc, skycore, committed, clock
):
    code, _deals, _sky = shared
    skycore.fail(1)  # SkyCore's unsubscribe answers 500: retried later
    before = in_step_count("phone_call")
    with committed():
        applied = phone_call(code)
    revocation = fresh(applied.revocation)
    syncs = {s.provider.kind: s for s in revocation.syncs.select_related("provider")}
    assert set(syncs) == {"sfmc", "skycore"}
    assert syncs["sfmc"].status == SyncStatus.SUCCEEDED
    assert syncs["skycore"].status == SyncStatus.PENDING
    assert not RevocationInStep.objects.exists()  # applied, but SkyCore is not in step yet
    pending = token_client("view_revocation").get("/api/v1/revocations/").json()["results"]
    assert pending[0]["in_step_at"] is None

    clock.advance(90)
    worker.deliver_sync(syncs["skycore"].pk)

    step = RevocationInStep.objects.get()
    assert (step.revocation_id, step.syncs, step.local_only) == (revocation.pk, 2, 0)
    assert step.in_step_at - revocation.received_at >= timedelta(seconds=90)
    assert in_step_count("phone_call") == before + 1
    numbers = selectors.dashboard_numbers()
    assert numbers.median_seconds_to_in_step == pytest.approx(
        (step.in_step_at - revocation.received_at).total_seconds()
    )
    assert (numbers.in_step_last_30_days, numbers.waiting_for_providers) == (1, 0)
    listed = token_client("view_revocation").get("/api/v1/revocations/").json()["results"]
    assert listed[0]["in_step_at"].startswith(step.in_step_at.isoformat()[:19])
    record.announce_settled([ProviderSync.objects.get(pk=syncs["skycore"].pk)])  # again
    assert RevocationInStep.objects.count() == 1
    with pytest.raises(AppendOnlyViolation):
        RevocationInStep.objects.filter(pk=step.pk).update(syncs=0)


def test_a_failed_delivery_is_not_in_step_until_staff_retry_it(shared, skycore, committed):
    code, _deals, _sky = shared
    skycore.fail(1, status=200, body=E107)  # permanent
    with committed():
        applied = phone_call(code)
    failed = applied.revocation.syncs.get(provider__kind="skycore")
    assert failed.status == SyncStatus.FAILED
    assert not RevocationInStep.objects.exists()
    assert selectors.dashboard_numbers().waiting_for_providers == 1

    with committed():
        worker.retry([failed.pk])

    assert RevocationInStep.objects.get().revocation_id == applied.revocation.pk


def test_a_delivery_superseded_by_a_later_one_is_in_step_when_that_one_is(
    shared, skycore, committed
):
    code, _deals, sky = shared
    skycore.fail(1)
    with committed():
        applied = phone_call(code)
    waiting = applied.revocation.syncs.get(provider__kind="skycore")
    assert waiting.status == SyncStatus.PENDING

    with committed():  # the person joins SKY again on the web: a later delivery, same target
        services.opt_in(PHONE_ONE, sky, Context(source=Source.WEB, consent_text="Join SKY"))

    waiting.refresh_from_db()
    assert waiting.status == SyncStatus.SUPERSEDED
    assert RevocationInStep.objects.get().revocation_id == applied.revocation.pk


def test_what_the_provider_applied_itself_is_in_step_at_once(sfmc_account, sfmc, committed):
    code, (deals,) = programs(sfmc_account, "DEALS")
    with committed():
        services.opt_in(PHONE_ONE, deals, Context(source=Source.API))
    ProviderSync.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    sfmc.handset_text(PHONE_ONE.lstrip("+"), "STOP")

    with committed():
        mo.handle_mo(mo.MoText(phone=PHONE_ONE, short_code=code, text="STOP", message_id="x"))

    revocation = Revocation.objects.get()
    assert [s.operation for s in revocation.syncs.all()] == ["echo"]
    assert revocation.in_step.in_step_at == revocation.applied_at


def test_a_review_is_in_step_only_after_a_revoke_decision(committed):
    keyword = KeywordFactory()
    code = keyword.short_code
    with committed():
        services.opt_in(PHONE, keyword, Context(source=Source.API))
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested"))
        mo.handle_mo(mo.MoText(phone="+16501113333", short_code=code, text="wrong number"))
    open_one, dismissed = Revocation.objects.order_by("id")
    assert not RevocationInStep.objects.exists()  # nothing is applied while it waits

    with committed():
        revocations.decide(dismissed.pk, "not_a_revocation", "wrong number", actor=UserFactory())
        revocations.decide(open_one.pk, "revoke", "means stop", actor=UserFactory())

    assert list(RevocationInStep.objects.values_list("revocation_id", flat=True)) == [open_one.pk]
    assert fresh(open_one).syncs.count() == 1
