"""Exactly one confirmation per revocation, for every provider kind and every way a
revocation arrives, counting the provider's own STOP confirmation (revocations/
confirmations.py): each test counts what reached the person's handset at the provider (the
fakes record the portal's texts they took and the confirmations they texted themselves; the
console provider's handset is its outbox). A repeat from the same person adds none. And a
revocation recorded from a phone call reaches every provider account on the code."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.inbound import mo
from subscriptions.models import (
    Confirmation,
    MessageStatus,
    OutboundMessage,
    ProviderSync,
    Revocation,
    RevocationDecision,
    Source,
    Subscription,
)
from subscriptions.preferences import service as preferences
from subscriptions.revocations import services as revocations
from tests.factories import KeywordFactory, ProviderAccountFactory, UserFactory
from tests.subscriptions.admin.conftest import staff_in
from tests.subscriptions.api.conftest import token_client
from tests.subscriptions.conftest import DIGITS, PHONE, programs

pytestmark = pytest.mark.django_db

HANDSET_WAYS = ["handset_stop_word", "handset_plain_words", "review_then_revoke"]
WAYS = [
    *HANDSET_WAYS,
    "phone_call",
    "web_stop_all",
    "web_program_off",
    "api_opt_out",
    "api_program_opt_out",
    "staff_stop",
    "staff_program_opt_out",
]
VISITOR = preferences.Visitor(phone=PHONE, ip_address="203.0.113.9", user_agent="test")


def confirmation_texts(code, deals):
    return {code.render(code.stop_text), code.render(code.opt_out_text, program=deals.title)}


def received(kind, fake, code, deals):
    """Confirmations that reached the handset: the provider's own plus the portal's texts."""
    texts = confirmation_texts(code, deals)
    if kind == "console":
        return OutboundMessage.objects.filter(
            phone=PHONE, short_code=code, status=MessageStatus.SENT, text__in=texts
        ).count()
    own = [c for c in fake.confirmations if c[0] == DIGITS]
    text_at = 1 if kind == "sfmc" else 2  # where each fake keeps the text in its tuples
    portal = [t for t in fake.texts if t[0] == DIGITS and t[text_at] in texts]
    return len(own) + len(portal)


def _staff_action(client, action, subscription):
    client.force_login(staff_in("Marketing"))
    response = client.post(
        "/admin/subscriptions/subscription/",
        {"action": action, "_selected_action": [subscription.pk], "reason": "She called: stop"},
    )
    assert response.status_code == 302


def _api(body):
    response = token_client("change_consent").post(
        "/api/v1/opt-outs/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content


def revoke(way, code, deals, fake, client):
    """Revoke in one of the WAYS."""
    if way == "handset_stop_word":
        if fake is not None:
            fake.handset_text(DIGITS, "STOP")  # the provider applies it before forwarding it
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="STOP", message_id="m1"))
    elif way == "handset_plain_words":
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="please stop", message_id="m1"))
    elif way == "review_then_revoke":
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested"))
        revocations.decide(Revocation.objects.get().pk, "revoke", "means stop", actor=UserFactory())
    elif way == "phone_call":
        revocations.record_revocation(
            PHONE,
            channel="phone_call",
            text="She said: take me off your texts",
            ctx=Context(source=Source.ADMIN, actor=UserFactory(), reason="phone call"),
            short_code=code,
        )
    elif way == "web_stop_all":
        preferences.stop_all(VISITOR, code)
    elif way == "web_program_off":
        preferences.leave(VISITOR, deals)
    elif way == "api_opt_out":
        _api({"phone": PHONE, "short_code": code.code})
    elif way == "api_program_opt_out":
        _api({"phone": PHONE, "short_code": code.code, "keyword": deals.word})
    elif way == "staff_stop":
        _staff_action(client, "stop_all", Subscription.objects.get(keyword=deals))
    else:
        _staff_action(client, "opt_out", Subscription.objects.get(keyword=deals))


def again(way, code, deals, fake, client):
    """The same person again: a text that is no provider's stop word, or the same way."""
    if way in HANDSET_WAYS:
        mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="Please stop", message_id="m9"))
    else:
        revoke(way, code, deals, fake, client)


def joined(committed, keyword):
    """Opted in, delivered, an hour ago (so a handset's STOP now is not a race with it:
    delivery.state.target_facts)."""
    with committed():
        services.opt_in(PHONE, keyword, Context(source=Source.API))
    ProviderSync.objects.update(updated_at=timezone.now() - timedelta(hours=1))


def confirmation_of(revocation):
    decision = RevocationDecision.objects.filter(revocation=revocation).first()
    return decision.confirmation if decision else revocation.confirmation


def once_then_none(way, committed, kind, fake, account, client):
    """Revoke, count what arrived (one), then the same person again (still one); returns
    the first revocation's Confirmation and the short code and program."""
    code, (deals,) = programs(account, "DEALS", title="Deals")
    joined(committed, deals)

    with committed():
        revoke(way, code, deals, fake, client)
    assert received(kind, fake, code, deals) == 1
    with committed():
        again(way, code, deals, fake, client)
    assert received(kind, fake, code, deals) == 1

    first, *repeats = Revocation.objects.order_by("id")
    assert [confirmation_of(r) for r in repeats] == [Confirmation.NONE] * len(repeats)
    assert first.channel == {
        "web_stop_all": "web",
        "web_program_off": "web",
        "api_opt_out": "api",
        "api_program_opt_out": "api",
        "staff_stop": "staff",
        "staff_program_opt_out": "staff",
        "phone_call": "phone_call",
    }.get(way, "sms")
    return confirmation_of(first), code, deals


@pytest.mark.parametrize("way", WAYS)
def test_console_the_portal_sends_the_one_confirmation(way, committed, client):
    account = ProviderAccountFactory(kind="console")

    confirmation, _code, _deals = once_then_none(way, committed, "console", None, account, client)

    assert confirmation == Confirmation.PORTAL


@pytest.mark.parametrize("way", WAYS)
def test_sfmc_texts_its_own_confirmation_and_the_portal_none(
    way, committed, client, sfmc, sfmc_account
):
    confirmation, _code, _deals = once_then_none(way, committed, "sfmc", sfmc, sfmc_account, client)

    assert confirmation == Confirmation.PROVIDER
    assert sfmc.texts == []  # the portal texted nothing
    assert sfmc.state[(DIGITS, "DEALS")] is False


@pytest.mark.parametrize("way", WAYS)
def test_whatcounts_stop_message_is_the_one_confirmation(
    way, committed, client, whatcounts, whatcounts_account
):
    confirmation, code, deals = once_then_none(
        way, committed, "whatcounts", whatcounts, whatcounts_account, client
    )

    assert confirmation == Confirmation.PROVIDER
    assert len(whatcounts.confirmations) == 1  # its stop message, and no text of the portal
    texts = confirmation_texts(code, deals)
    assert not [t for t in whatcounts.texts if t[2] in texts]


@pytest.mark.parametrize("way", WAYS)
def test_skycore_unsubscribes_without_notify_and_the_portal_texts_through_skycore(
    way, committed, client, skycore, skycore_account
):
    confirmation, code, deals = once_then_none(
        way, committed, "skycore", skycore, skycore_account, client
    )

    assert confirmation == Confirmation.PORTAL
    unsubscribes = [x for x in map(skycore.xml, skycore.requests) if x["ACTION"] == "unsubscribe"]
    if way == "handset_stop_word":  # SkyCore applied the handset's STOP itself
        assert unsubscribes == []
    else:
        assert unsubscribes and {x.get("NOTIFY") for x in unsubscribes} == {"no"}
    assert skycore.confirmations == []  # NOTIFY=no: SkyCore texted nothing of its own
    texts = confirmation_texts(code, deals)
    sent = [x for x in skycore.sent_texts() if x["TEXT"] in texts]
    assert [(x["TO"], x["FROM"], x["CAMPAIGNREF"]) for x in sent] == [
        (DIGITS, code.code, "ref-DEALS")
    ]
    message = OutboundMessage.objects.get(text=sent[0]["TEXT"])
    assert message.status == MessageStatus.SENT


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
    # Providers that text their own confirmation do: the portal sends none.
    assert applied.confirmation == Confirmation.PROVIDER
    assert skycore.texts == [] and sfmc.texts == []
    assert not OutboundMessage.objects.filter(text=code.render(code.stop_text)).exists()
    # Every delivery it caused was acknowledged: the revocation is in step.
    assert applied.revocation.syncs.count() == 3
    assert Revocation.objects.get(pk=applied.revocation.pk).in_step.syncs == 3
