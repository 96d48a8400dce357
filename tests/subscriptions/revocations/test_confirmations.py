"""Exactly one confirmation per revocation, for every provider kind and every way a
revocation arrives, counting the provider's own STOP confirmation (revocations/
confirmations.py); and a revocation recorded from a phone call reaches every provider
account on the code."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.inbound import mo
from subscriptions.models import (
    Confirmation,
    OutboundMessage,
    ProviderSync,
    Revocation,
    RevocationDecision,
    Source,
)
from subscriptions.revocations import services as revocations
from tests.factories import KeywordFactory, ProviderAccountFactory, UserFactory
from tests.subscriptions.conftest import DIGITS, PHONE, programs

pytestmark = pytest.mark.django_db

WAYS = ["handset_stop_word", "handset_plain_words", "phone_call", "review_then_revoke"]


def portal_confirmations(code):
    """Texts the portal handed to the code's provider with the stop text."""
    return OutboundMessage.objects.filter(
        phone=PHONE, short_code=code, text=code.render(code.stop_text)
    ).count()


def revoke(way, code, fake=None):
    """Revoke in one of the WAYS; returns the provider confirmations a handset's own stop
    word caused at the provider before the portal saw it (0 or 1)."""
    handset = 0
    if way == "handset_stop_word":
        if fake is not None and hasattr(fake, "handset_text"):
            fake.handset_text(DIGITS, "STOP")
        handset = 1 if code.provider.kind in ("sfmc", "whatcounts") else 0
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="STOP", message_id="m1"))
    elif way == "handset_plain_words":
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="please stop", message_id="m1"))
    elif way == "phone_call":
        revocations.record_revocation(
            PHONE,
            channel="phone_call",
            text="She said: take me off your texts",
            ctx=Context(source=Source.ADMIN, actor=UserFactory(), reason="phone call"),
            short_code=code,
        )
    else:
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested"))
        revocations.decide(Revocation.objects.get().pk, "revoke", "means stop", actor=UserFactory())
    return handset


def joined(committed, keyword):
    """Opted in, delivered, an hour ago (so a handset's STOP now is not a race with it:
    delivery.state.target_facts)."""
    with committed():
        services.opt_in(PHONE, keyword, Context(source=Source.API))
    ProviderSync.objects.update(updated_at=timezone.now() - timedelta(hours=1))


def confirmation_of(revocation):
    decision = RevocationDecision.objects.filter(revocation=revocation).first()
    return decision.confirmation if decision else revocation.confirmation


def twice(way, committed, code, fake=None):
    """The revocation, then the same person again: the second gets no confirmation."""
    with committed():
        handset = revoke(way, code, fake)
    with committed():
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="STOP!!", message_id="m9"))
    return handset


@pytest.mark.parametrize("way", WAYS)
def test_console_the_portal_sends_the_one_confirmation(way, committed):
    code, (deals,) = programs(ProviderAccountFactory(kind="console"), "DEALS")
    joined(committed, deals)

    twice(way, committed, code)

    assert portal_confirmations(code) == 1
    first, again = Revocation.objects.order_by("id")
    assert (confirmation_of(first), confirmation_of(again)) == (
        Confirmation.PORTAL,
        Confirmation.NONE,
    )


@pytest.mark.parametrize("way", WAYS)
def test_sfmc_texts_its_own_confirmation_and_the_portal_none(way, committed, sfmc, sfmc_account):
    code, (deals,) = programs(sfmc_account, "DEALS")
    joined(committed, deals)

    handset = twice(way, committed, code, sfmc)

    stops_sent = [
        body
        for path, body in sfmc.rest_calls()
        if path == "/sms/v1/queueMO" and body["messageText"] == "STOP"
    ]
    assert portal_confirmations(code) == 0
    assert handset + len(stops_sent) == 1
    assert sfmc.state[(DIGITS, "DEALS")] is False


@pytest.mark.parametrize("way", WAYS)
def test_whatcounts_stop_command_is_the_one_confirmation(
    way, committed, whatcounts, whatcounts_account
):
    code, (deals,) = programs(whatcounts_account, "DEALS")
    joined(committed, deals)
    assert (DIGITS, code.code) in whatcounts.state

    handset = twice(way, committed, code, whatcounts)

    stops_sent = [c for c in whatcounts.calls() if c[0] == "smsstopsubscribersend"]
    assert portal_confirmations(code) == 0
    assert handset + len(stops_sent) == 1


@pytest.mark.parametrize("way", WAYS)
def test_skycore_unsubscribes_without_notify_and_the_portal_texts(
    way, committed, skycore, skycore_account
):
    code, (deals,) = programs(skycore_account, "DEALS")
    joined(committed, deals)

    twice(way, committed, code, skycore)

    unsubscribes = [skycore.xml(r) for r in skycore.requests]
    unsubscribes = [x for x in unsubscribes if x["ACTION"] == "unsubscribe"]
    if way == "handset_stop_word":  # SkyCore applied the handset's STOP itself
        assert unsubscribes == []
    else:
        assert unsubscribes and {x.get("NOTIFY") for x in unsubscribes} == {"no"}
    assert portal_confirmations(code) == 1


def test_a_phone_call_reaches_every_provider_account_on_the_code(
    committed, sfmc, sfmc_account, whatcounts, whatcounts_account, skycore, skycore_account
):
    code, (deals,) = programs(sfmc_account, "DEALS")
    partner = KeywordFactory(
        short_code=code, word="PARTNER", provider=whatcounts_account, provider_ref="ref-P"
    )
    sky = KeywordFactory(short_code=code, word="SKY", provider=skycore_account, provider_ref="77")
    for keyword in (deals, partner, sky):
        joined(committed, keyword)
    assert sfmc.state[(DIGITS, "DEALS")] and (DIGITS, code.code) in whatcounts.state

    with committed():
        applied = revocations.record_revocation(
            PHONE,
            channel="phone_call",
            text="Please don't text me any more",
            ctx=Context(source=Source.ADMIN, actor=UserFactory(), reason="call 14:02"),
        )

    assert sorted((e.keyword.word, e.new_status) for e in applied.changed) == [
        ("DEALS", "opted_out"),
        ("PARTNER", "opted_out"),
        ("SKY", "opted_out"),
    ]
    assert sfmc.state[(DIGITS, "DEALS")] is False
    assert (DIGITS, code.code) not in whatcounts.state
    assert skycore.state[(DIGITS, "77")] is False
    assert [code.code] == [c.code for c in applied.revocation.short_codes.all()]
