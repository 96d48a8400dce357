"""revocations/ API (docs/api.md "Revocation by any reasonable means"): recording from any
channel, scope, the queue, decisions and their permission, and clear 4xx for bad input."""

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from subscriptions.consent import selectors, services
from subscriptions.consent.rules.deadlines import due_by
from subscriptions.consent.services import Context
from subscriptions.inbound import mo
from subscriptions.models import (
    Confirmation,
    Contact,
    Keyword,
    Revocation,
    RevocationVerdict,
    ShortCodeStop,
    Source,
    SubscriptionEvent,
)
from subscriptions.preferences import service as preferences
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.api.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/revocations/"
PHONE = "+16501112222"


@pytest.fixture
def recorder():
    return token_client("change_consent", "view_revocation")


@pytest.fixture
def decider():
    return token_client("view_revocation", "decide_revocation")


@pytest.fixture
def codes():
    acme = ShortCodeFactory(code="12345", brand="Acme")
    acme_two = ShortCodeFactory(code="12346", brand="Acme")
    bistro = ShortCodeFactory(code="67890", brand="Bistro")
    for code in (acme, acme_two, bistro):
        keyword = KeywordFactory(short_code=code, word="DEALS")
        services.opt_in(PHONE, keyword, Context(source=Source.API))
    return acme, acme_two, bistro


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def stopped_codes():
    return sorted(
        ShortCodeStop.objects.filter(cleared_at__isnull=True).values_list(
            "short_code__code", flat=True
        )
    )


def test_a_phone_call_on_one_code_is_applied_at_once(recorder, codes):
    response = post(
        recorder,
        URL,
        {
            "phone": "650 111 2222",
            "channel": "phone_call",
            "text": "Caller: “stop sending me those texts”",
            "short_code": "12345",
            "received_at": "2026-11-30T15:00:00Z",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["phone"], body["channel"], body["status"]) == (PHONE, "phone_call", "applied")
    assert body["scope"] == ["12345"]
    assert body["changed"] == [{"short_code": "12345", "keyword": "DEALS", "status": "opted_out"}]
    assert body["due_by"].startswith("2026-12-14T15:00:00")  # 10 business days later
    assert body["applied_at"] is not None
    assert body["text"] == "Caller: “stop sending me those texts”"
    assert stopped_codes() == ["12345"]


def test_a_brand_or_every_known_code(recorder, codes):
    brand = post(recorder, URL, {"phone": PHONE, "channel": "email", "text": "x", "brand": "Acme"})
    assert brand.json()["scope"] == ["12345", "12346"]
    every = post(recorder, URL, {"phone": PHONE, "channel": "letter", "text": "no more"})
    assert every.json()["scope"] == ["12345", "12346", "67890"]
    assert stopped_codes() == ["12345", "12346", "67890"]
    assert every.json()["changed"] == [
        {"short_code": "67890", "keyword": "DEALS", "status": "opted_out"}
    ]


def test_revoke_all_scope_brand_stops_every_code_of_the_brand(recorder, codes, settings):
    settings.PORTAL_REVOKE_ALL_SCOPE = "brand"

    response = post(
        recorder, URL, {"phone": PHONE, "channel": "chat", "text": "stop", "short_code": "12345"}
    )

    assert response.json()["scope"] == ["12345", "12346"]
    assert stopped_codes() == ["12345", "12346"]


def test_revoke_all_scope_brand_for_a_handset_text(codes, settings):
    settings.PORTAL_REVOKE_ALL_SCOPE = "brand"
    acme = codes[0]

    outcome = mo.handle_mo(mo.MoText(phone=PHONE, short_code=acme, text="please stop"))

    assert sorted(word for word, _ in outcome.changed) == ["DEALS", "DEALS"]
    assert stopped_codes() == ["12345", "12346"]


@pytest.mark.parametrize("scope", ["code", "brand"])
def test_the_switch_widens_code_wide_opt_outs_not_a_chosen_program(
    recorder, codes, settings, scope
):
    settings.PORTAL_REVOKE_ALL_SCOPE = scope
    acme, acme_two, _bistro = codes
    visitor = preferences.Visitor(phone=PHONE, ip_address=None, user_agent="")

    preferences.leave(visitor, Keyword.objects.get(short_code=acme_two))
    assert stopped_codes() == []  # a program turned off stays that program, either way
    preferences.stop_all(visitor, acme)

    assert stopped_codes() == (["12345", "12346"] if scope == "brand" else ["12345"])
    assert [
        sorted(c.code for c in r.short_codes.all()) for r in Revocation.objects.order_by("id")
    ] == [
        ["12346"],
        ["12345", "12346"] if scope == "brand" else ["12345"],
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "phone_call", "text": "stop"}, "phone"),
        ({"phone": "call me", "channel": "phone_call", "text": "stop"}, "phone"),
        ({"phone": PHONE, "channel": "pigeon", "text": "stop"}, "channel"),
        ({"phone": PHONE, "channel": "email"}, "text"),
        ({"phone": PHONE, "channel": "email", "text": "   "}, "text"),
        ({"phone": PHONE, "channel": "email", "text": "x", "short_code": "999"}, "short_code"),
        ({"phone": PHONE, "channel": "email", "text": "x", "brand": "Nobody"}, "brand"),
        ({"phone": PHONE, "channel": "email", "text": "x", "received_at": "soon"}, "received_at"),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(recorder, codes, body, field):
    response = post(recorder, URL, body)

    assert response.status_code == 400
    assert field in json.dumps(response.json())
    assert not Revocation.objects.exists() and not ShortCodeStop.objects.exists()


def test_a_number_known_nowhere_needs_a_code(recorder, codes):
    response = post(recorder, URL, {"phone": "+16505550000", "channel": "email", "text": "x"})
    assert response.status_code == 400
    assert "known on no short code" in response.json()["detail"]


def test_the_queue_lists_open_and_overdue_and_decide_needs_its_permission(recorder, decider, codes):
    acme = codes[0]
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=acme, text="not interested"))
    revocation = Revocation.objects.get()
    decide_url = f"{URL}{revocation.pk}/decide/"

    listed = recorder.get(URL, {"status": "open"}).json()["results"]
    assert [(r["id"], r["status"], r["scope"]) for r in listed] == [
        (revocation.pk, "open", ["12345"])
    ]
    assert recorder.get(URL, {"overdue": "1"}).json()["results"] == []
    assert post(recorder, decide_url, {"decision": "revoke", "reason": "x"}).status_code == 403
    assert post(decider, decide_url, {"decision": "revoke"}).status_code == 400
    assert post(decider, decide_url, {"decision": "maybe", "reason": "x"}).status_code == 400
    assert selectors.sendable(PHONE, acme).reason == "review"

    decided = post(decider, decide_url, {"decision": "revoke", "reason": "means stop"})

    assert decided.status_code == 200, decided.content
    body = decided.json()
    assert (body["status"], body["decision"]["reason"]) == ("applied", "means stop")
    assert body["decision"]["decided_by"] == decider.user.username
    assert body["applied_at"] is not None
    assert selectors.sendable(PHONE, acme).reason == "stopped"
    again = post(decider, decide_url, {"decision": "not_a_revocation", "reason": "oops"})
    assert again.status_code == 409
    assert (
        post(decider, f"{URL}999999/decide/", {"decision": "revoke", "reason": "x"}).status_code
        == 404
    )
    assert recorder.get(URL, {"status": "applied", "phone": PHONE}).json()["results"][0]["id"] == (
        revocation.pk
    )


def test_history_rows_are_never_updated(codes):
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=codes[0], text="not interested"))
    revocation = Revocation.objects.get()
    with pytest.raises(Exception, match="append-only"):
        revocation.save()
    with pytest.raises(Exception, match="append-only"):
        Revocation.objects.update(text="edited")
    assert SubscriptionEvent.objects.filter(action="review").count() == 1


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2026, 11, 30, 15, tzinfo=UTC), datetime(2026, 12, 14, 15, tzinfo=UTC)),
        # Thanksgiving (26 Nov 2026) does not count
        (datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 12, 7, 9, tzinfo=UTC)),
        # Christmas, New Year's Day (observed) and the weekends around them
        (datetime(2026, 12, 24, 9, tzinfo=UTC), datetime(2027, 1, 11, 9, tzinfo=UTC)),
        # received on a Saturday
        (datetime(2026, 12, 5, 9, tzinfo=UTC), datetime(2026, 12, 18, 9, tzinfo=UTC)),
    ],
)
def test_due_by_is_ten_us_business_days(received, due):
    assert due_by(received) == due


@pytest.mark.parametrize(
    "phrases", ["HELP", "start", "x" * 81, "one two three four five six seven", "!!!"]
)
def test_a_codes_own_phrases_are_validated_in_the_model(phrases):
    code = ShortCodeFactory.build(revocation_phrases=phrases)
    with pytest.raises(ValidationError):
        code.clean_fields()


@pytest.mark.postgres
def test_the_database_refuses_updates_and_deletes_of_revocations(codes):
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=codes[0], text="not interested"))
    for sql in (
        "UPDATE subscriptions_revocation SET text = 'x'",
        "DELETE FROM subscriptions_revocation",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            connection.cursor().execute(sql)
    assert Revocation.objects.get().text == "not interested"


def test_an_api_opt_out_is_recorded_as_the_persons_revocation(recorder, codes):
    whole = post(recorder, "/api/v1/opt-outs/", {"phone": PHONE, "short_code": "12345"})
    one = post(
        recorder, "/api/v1/opt-outs/", {"phone": PHONE, "short_code": "67890", "keyword": "DEALS"}
    )

    assert whole.status_code == one.status_code == 200
    assert whole.json()["changed"] == [{"keyword": "DEALS", "status": "opted_out"}]
    listed = recorder.get(URL + "?phone=" + PHONE).json()["results"]
    assert [(r["channel"], r["status"], r["scope"], r["recorded_by"]) for r in listed] == [
        ("api", "applied", ["67890"], recorder.user.username),
        ("api", "applied", ["12345"], recorder.user.username),
    ]
    assert listed[1]["text"] == "opt-out through the API: every program on 12345"
    program = Revocation.objects.get(short_codes__code="67890")
    assert [k.word for k in program.keywords.all()] == ["DEALS"]
    assert stopped_codes() == ["12345"]  # a program opt-out is no STOP


def test_the_portals_own_channels_cannot_be_named_when_recording(recorder, codes):
    for channel in ("api", "staff"):
        response = post(recorder, URL, {"phone": PHONE, "channel": channel, "text": "x"})
        assert response.status_code == 400, response.content
    assert not Revocation.objects.exists()


def _revocation(contact, verdict, applied_at):
    received = datetime(2026, 12, 1, 9, tzinfo=UTC)
    return Revocation(
        contact=contact,
        channel="sms",
        text="stop texting me",
        received_at=received,
        due_by=due_by(received),
        verdict=verdict,
        applied_at=applied_at,
        confirmation=Confirmation.PENDING,
    )


def test_the_model_refuses_a_review_applied_at_receipt_without_asking_the_database():
    contact = Contact.objects.create(phone=PHONE)
    revocation = _revocation(contact, RevocationVerdict.REVIEW, datetime.now(UTC))
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationError) as refused:
        revocation.save()
    assert "applied_at" in refused.value.message_dict
    assert len(queries) == 0  # the row's own fields; its contact is held, not read again
    assert not Revocation.objects.exists()


def test_saving_a_valid_revocation_is_its_insert_alone():
    contact = Contact.objects.create(phone=PHONE)
    with CaptureQueriesContext(connection) as queries:
        _revocation(contact, RevocationVerdict.STOP, datetime.now(UTC)).save()
    assert [q["sql"].split()[0] for q in queries] == ["INSERT"]
