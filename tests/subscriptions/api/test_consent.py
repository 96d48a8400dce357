"""contacts/, opt-ins/, opt-outs/, sendable/: behaviour, evidence, bad input."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from subscriptions.api.serializers import BATCH_LIMIT
from subscriptions.common import limits, memo
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import Outcome, Source, Status, Subscription, SubscriptionEvent
from tests.factories import KeywordFactory

pytestmark = pytest.mark.django_db
PHONE = "15555551212"
E164 = "+15555551212"


def opt_in(client, headers=None, **body):
    return client.post(
        "/api/v1/opt-ins/",
        {"phone": PHONE, "short_code": "12345", "keyword": "join", **body},
        format="json",
        headers=headers,
    )


def test_opt_in_records_api_evidence_and_answers_201(staff, code):
    response = opt_in(staff, consent_text="Yes, text me deals.", headers={"User-Agent": "crm/2"})

    assert response.status_code == 201
    assert response.json() == {
        "phone": E164,
        "short_code": "12345",
        "keyword": "JOIN",
        "status": "opted_in",
    }
    event = SubscriptionEvent.objects.get()
    assert (event.source, event.actor, event.consent_text, event.user_agent, event.outcome) == (
        Source.API,
        staff.user,
        "Yes, text me deals.",
        "crm/2",
        Outcome.APPLIED,
    )
    assert event.ip_address == "127.0.0.1"


def test_opt_in_twice_answers_200_with_no_change(staff, code):
    opt_in(staff)
    response = opt_in(staff)
    assert (response.status_code, response.json()["status"]) == (200, "opted_in")
    assert list(SubscriptionEvent.objects.values_list("outcome", flat=True)) == [
        Outcome.NO_CHANGE,
        Outcome.APPLIED,
    ]


def test_opt_in_to_double_opt_in_program_is_pending(staff, code):
    response = opt_in(staff, keyword="VIP")
    assert (response.status_code, response.json()["status"]) == (201, "pending")


def test_opt_in_older_than_last_change_is_409_stale_and_changes_nothing(staff, code):
    opt_in(staff)
    staff.post(
        "/api/v1/opt-outs/",
        {"phone": PHONE, "short_code": "12345", "keyword": "JOIN"},
        format="json",
    )
    response = opt_in(staff, occurred_at=(timezone.now() - timedelta(days=1)).isoformat())

    assert response.status_code == 409
    assert response.json() == {"detail": "older than the last applied event", "code": "stale"}
    assert Subscription.objects.get().status == Status.OPTED_OUT
    assert SubscriptionEvent.objects.first().outcome == Outcome.STALE


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"phone": "not a phone"}, "phone", "is not a valid phone number"),
        ({"phone": ""}, "phone", "may not be blank"),
        ({"short_code": "99999"}, "short_code", "Unknown short code '99999'"),
        ({"keyword": "NOPE"}, "keyword", "No program keyword 'NOPE' on short code 12345"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at", "in the future"),
        # Issue 16: stored by PostgreSQL, unreadable by Python; before the documented floor.
        ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at", "range"),
        ({"occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at", "range"),
        ({"occurred_at": "1999-06-01T00:00:00Z"}, "occurred_at", "before 2000"),
        ({"phone": "1555\x005551212"}, "phone", "Null characters are not allowed"),
    ],
)
def test_opt_in_bad_input_is_400_naming_the_field_and_changes_nothing(
    staff, code, body, field, message
):
    response = opt_in(staff, **body)
    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not SubscriptionEvent.objects.exists()


def test_opt_in_to_a_stop_keyword_is_400(staff, code):
    KeywordFactory(short_code=code, word="STOP1", kind="stop")
    response = opt_in(staff, keyword="STOP1")
    assert response.status_code == 400
    assert "No program keyword 'STOP1'" in response.json()["keyword"][0]


def test_malformed_json_is_400_with_detail_and_code(staff, code):
    response = staff.post("/api/v1/opt-ins/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_opt_out_of_one_program(staff, code):
    opt_in(staff)
    opt_in(staff, keyword="VIP")
    response = staff.post(
        "/api/v1/opt-outs/",
        {"phone": E164, "short_code": "12345", "keyword": "Join"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "phone": E164,
        "short_code": "12345",
        "changed": [{"keyword": "JOIN", "status": "opted_out"}],
    }
    assert dict(Subscription.objects.values_list("keyword__word", "status")) == {
        "JOIN": "opted_out",
        "VIP": "pending",
    }


def test_opt_out_without_keyword_stops_the_whole_code(staff, code):
    opt_in(staff)
    opt_in(staff, keyword="VIP")
    response = staff.post(
        "/api/v1/opt-outs/", {"phone": PHONE, "short_code": "12345"}, format="json"
    )
    assert response.status_code == 200
    assert sorted(c["keyword"] for c in response.json()["changed"]) == ["JOIN", "VIP"]
    assert set(Subscription.objects.values_list("status", flat=True)) == {"opted_out"}
    assert code.stops.filter(cleared_at__isnull=True).count() == 1


def test_opt_out_of_unknown_keyword_is_400(staff, code):
    response = staff.post(
        "/api/v1/opt-outs/",
        {"phone": PHONE, "short_code": "12345", "keyword": "GONE"},
        format="json",
    )
    assert response.status_code == 400
    assert "GONE" in response.json()["keyword"][0]


def test_contact_lists_subscriptions_and_stops(reader, staff, code):
    opt_in(staff)
    services.stop_all(PHONE, code, Context(source="mo"))
    response = reader.get(f"/api/v1/contacts/{PHONE}/")
    assert response.status_code == 200
    body = response.json()
    assert body["phone"] == E164
    assert [
        (s["short_code"], s["keyword"], s["status"], s["source"]) for s in body["subscriptions"]
    ] == [("12345", "JOIN", "opted_out", "mo")]
    assert [s["short_code"] for s in body["stops"]] == ["12345"]


def test_unknown_contact_is_404_and_bad_phone_400(reader, code):
    assert reader.get("/api/v1/contacts/+15555550000/").json()["code"] == "not_found"
    response = reader.get("/api/v1/contacts/abc/")
    assert response.status_code == 400
    assert "phone" in response.json()


def test_sendable_single(reader, staff, code):
    opt_in(staff)
    answer = reader.get("/api/v1/sendable/", {"phone": PHONE, "short_code": "12345"}).json()
    assert answer == {
        "phone": E164,
        "short_code": "12345",
        "keyword": None,
        "sendable": True,
        "reason": "opted_in",
    }
    vip = reader.get(
        "/api/v1/sendable/", {"phone": PHONE, "short_code": "12345", "keyword": "vip"}
    ).json()
    assert (vip["keyword"], vip["sendable"], vip["reason"]) == ("VIP", False, "no_subscription")


def test_sendable_bad_query_is_400(reader, code):
    response = reader.get("/api/v1/sendable/", {"phone": PHONE, "short_code": "00000"})
    assert response.status_code == 400
    assert "short_code" in response.json()
    assert reader.get("/api/v1/sendable/", {"short_code": "12345"}).json()["phone"]


def test_sendable_batch_in_input_order_with_constant_queries(reader, staff, code, monkeypatch):
    # Counts, not times: no once-a-second check may land between the two batches.
    monkeypatch.setattr(memo, "CHECK_SECONDS", 3600)
    monkeypatch.setattr(limits, "FLUSH_SECONDS", 3600)
    opt_in(staff)
    services.stop_all("+15555551213", code, Context(source="mo"))
    phones = ["+15555551213", PHONE, "(555) 555-1214"]
    many = phones + [f"+1555666{i:04d}" for i in range(300)]

    def batch(numbers):
        with CaptureQueriesContext(connection) as queries:
            response = reader.post(
                "/api/v1/sendable/", {"short_code": "12345", "phones": numbers}, format="json"
            )
        # The test's own transaction turns a batch's transaction into a savepoint.
        statements = [q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
        return response.json()["results"], len(statements)

    batch(phones)  # the token, its permissions and the code are then kept per process
    (small, small_queries), (large, large_queries) = batch(phones), batch(many)
    assert [(r["phone"], r["sendable"], r["reason"]) for r in small] == [
        ("+15555551213", False, "stopped"),
        (E164, True, "opted_in"),
        ("+15555551214", False, "no_subscription"),
    ]
    assert large[:3] == small
    assert len(large) == 303
    assert small_queries == 1
    # Past selectors.JIT_SAFE_NUMBERS the lookup also sets JIT off for itself (PostgreSQL).
    assert large_queries == (2 if connection.vendor == "postgresql" else 1)


def test_sendable_batch_limits(reader, code):
    too_many = reader.post(
        "/api/v1/sendable/",
        {"short_code": "12345", "phones": [PHONE] * (BATCH_LIMIT + 1)},
        format="json",
    )
    assert too_many.status_code == 400
    assert "10000" in too_many.json()["phones"][0]
    bad = reader.post(
        "/api/v1/sendable/", {"short_code": "12345", "phones": [PHONE, "x"]}, format="json"
    )
    # A number that does not parse is answered on its own; its neighbours as usual.
    assert bad.status_code == 200
    assert bad.json()["results"] == [
        {"phone": E164, "sendable": False, "reason": "no_subscription"},
        {"phone": "x", "sendable": False, "reason": "invalid"},
    ]
    for body in ({"phones": []}, {"phones": "15555551212"}, {"phones": [None]}, {}):
        refused = reader.post("/api/v1/sendable/", {"short_code": "12345", **body}, format="json")
        assert refused.status_code == 400, body
        assert "phones" in refused.json()
    full = reader.post(
        "/api/v1/sendable/", {"short_code": "12345", "phones": [PHONE] * BATCH_LIMIT}, format="json"
    )
    assert len(full.json()["results"]) == BATCH_LIMIT
