"""Revocations through POST inbound/ (the "Must show" of issue 12): clear revocations stop
the code with one reply; doubtful ones answer `review` and pause the number until staff
decide; ordinary replies and keywords behave as before."""

import json

import pytest

from subscriptions.consent import selectors
from subscriptions.models import (
    Action,
    OutboundMessage,
    Revocation,
    RevocationVerdict,
    ShortCodeStop,
    Status,
    Subscription,
    SubscriptionEvent,
)
from subscriptions.revocations import services as revocations
from tests.factories import KeywordFactory, ShortCodeFactory, UserFactory
from tests.subscriptions.api.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbound/"
PHONE = "+16501112222"


@pytest.fixture
def api():
    return token_client("submit_inbound")


@pytest.fixture
def code():
    return ShortCodeFactory(code="12345", brand="Acme")


@pytest.fixture
def deals(code):
    return KeywordFactory(short_code=code, word="DEALS", title="Deals")


def text(client, words, message_id=None, to="12345"):
    body = {"from": PHONE, "to": to, "text": words}
    if message_id:
        body["message_id"] = message_id
    response = client.post(URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def replies():
    return list(
        OutboundMessage.objects.filter(phone=PHONE).order_by("id").values_list("text", flat=True)
    )


def joined(api):
    assert text(api, "DEALS")["action"] == "opt_in"


@pytest.mark.parametrize(
    "words",
    [
        "Please stop",
        "Opt-out please",
        "I revoke my consent",
        "Leave me alone",
        "take me off this list",
        "ALTO",
        "No me envíen más mensajes",
        "stoppp",
        "\uff33\uff34\uff2f\uff30",  # full width
        "s\u200btop",
    ],
)
def test_clear_revocations_stop_the_code_with_one_reply(api, code, deals, words):
    joined(api)

    answer = text(api, words, message_id="m-1")

    assert answer["action"] == "stop_all"
    assert answer["changed"] == [{"keyword": "DEALS", "status": "opted_out"}]
    assert answer["reply"] == code.render(code.stop_text)
    assert replies()[1:] == [answer["reply"]]
    assert ShortCodeStop.objects.filter(short_code=code, cleared_at__isnull=True).count() == 1
    assert selectors.sendable(PHONE, code).reason == "stopped"
    revocation = Revocation.objects.get()
    assert (revocation.channel, revocation.text, revocation.verdict) == ("sms", words, "stop")
    assert revocation.applied_at is not None and revocation.due_by > revocation.received_at


def test_a_repeated_revocation_gets_no_second_confirmation(api, code, deals):
    joined(api)
    first = text(api, "please stop", message_id="m-1")
    again = text(api, "I SAID STOP!!!", message_id="m-2")
    retried = text(api, "please stop", message_id="m-1")

    assert first["reply"] == code.render(code.stop_text)
    assert (again["action"], again["reply"], again["changed"]) == ("stop_all", None, [])
    assert retried["duplicate"] is True
    assert replies()[1:] == [first["reply"]]
    assert Revocation.objects.count() == 2  # both words are kept as evidence


@pytest.mark.parametrize(
    "words",
    [
        "not interested",
        "wrong number",
        "no me interesa",
        "I was going to stop by the store later but first I wanted to ask you about the "
        "deals you sent me yesterday and the day before",
    ],
)
def test_doubtful_ones_answer_review_and_pause_the_number_until_decided(api, code, deals, words):
    joined(api)
    assert selectors.sendable(PHONE, code).sendable

    answer = text(api, words)

    assert answer["action"] == "review"
    assert answer["changed"] == []
    assert answer["reply"] == code.render(code.help_text)
    assert selectors.sendable(PHONE, code).reason == "review"
    assert not selectors.sendable(PHONE, code, deals).sendable
    assert Subscription.objects.get().status == Status.OPTED_IN  # paused, not opted out
    revocation = Revocation.objects.get()
    assert (revocation.verdict, revocation.applied_at) == (RevocationVerdict.REVIEW, None)
    pause = SubscriptionEvent.objects.get(action=Action.REVIEW)
    assert (pause.short_code, pause.outcome) == (code, "applied")
    reader = token_client("view_subscription")
    answer = reader.get("/api/v1/sendable/", {"phone": PHONE, "short_code": "12345"}).json()
    assert (answer["sendable"], answer["reason"]) == (False, "review")


def test_staff_decide_revoke_stops_and_not_a_revocation_releases(api, code, deals):
    joined(api)
    text(api, "not interested")
    text(api, "wrong number", to="12345")
    first, second = Revocation.objects.order_by("id")
    staff = UserFactory(username="carol")

    revocations.decide(second.pk, "not_a_revocation", "asked about the store", actor=staff)
    assert selectors.sendable(PHONE, code).reason == "review"  # the first still waits
    revocations.decide(first.pk, "revoke", "a reasonable person means stop", actor=staff)

    assert selectors.sendable(PHONE, code).reason == "stopped"
    decided = SubscriptionEvent.objects.filter(action=Action.REVIEW_DECIDED).order_by("id")
    assert [(e.actor_label, e.reason) for e in decided] == [
        ("carol", "not a revocation: asked about the store"),
        ("carol", "revoke: a reasonable person means stop"),
    ]
    assert replies()[-1] == code.render(code.stop_text)


def test_dismissed_review_makes_the_number_sendable_again(api, code, deals):
    joined(api)
    text(api, "not interested")
    revocation = Revocation.objects.get()

    revocations.decide(revocation.pk, "not_a_revocation", "a question", actor=UserFactory())

    assert selectors.sendable(PHONE, code).sendable
    assert len(replies()) == 2  # the join and the review's help text: no confirmation


@pytest.mark.parametrize(
    ("words", "action"),
    [
        ("DEALS", "opt_in"),
        ("HELP", "help"),
        ("thanks!", "none"),
        ("When does the sale end?", "none"),
        ("see you this weekend", "none"),
        ("STOP", "stop_all"),
        ("START", "opt_in"),
    ],
)
def test_ordinary_replies_and_keywords_behave_as_before(api, code, deals, words, action):
    joined(api)

    answer = text(api, words)

    assert answer["action"] == action
    assert not Revocation.objects.exclude(verdict="stop").exists()
    assert len(replies()) == 2


def test_a_brands_own_words_are_revocations_on_its_code(api, code, deals):
    code.revocation_phrases = "go fish\nbasta ya"
    code.full_clean()
    code.save()
    joined(api)

    assert text(api, "GO FISH!")["action"] == "stop_all"
    assert selectors.sendable(PHONE, code).reason == "stopped"
