"""Idempotency-Key on POST: same key and body -> the first answer, nothing changed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.models import IdempotencyKey, Subscription, SubscriptionEvent
from tests.subscriptions.api.conftest import STAFF_PERMS, token_client

pytestmark = pytest.mark.django_db
BODY = {"phone": "15555551212", "short_code": "12345", "keyword": "JOIN"}


def post(client, body, key, url="/api/v1/opt-ins/"):
    return client.post(url, body, format="json", headers={"Idempotency-Key": key})


def test_same_key_and_body_replays_the_first_answer_and_changes_nothing(staff, code):
    first = post(staff, BODY, "key-1")
    again = post(staff, dict(reversed(BODY.items())), "key-1")  # same content, other order

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert SubscriptionEvent.objects.count() == 1


def test_same_key_with_other_body_is_422_and_changes_nothing(staff, code):
    post(staff, BODY, "key-1")
    response = post(staff, {**BODY, "keyword": "VIP"}, "key-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(Subscription.objects.values_list("keyword__word", flat=True)) == ["JOIN"]


def test_same_key_on_another_endpoint_is_422(staff, code):
    post(staff, BODY, "key-1")
    assert post(staff, BODY, "key-1", url="/api/v1/opt-outs/").status_code == 422


def test_without_a_key_every_post_runs(staff, code):
    staff.post("/api/v1/opt-ins/", BODY, format="json")
    staff.post("/api/v1/opt-ins/", BODY, format="json")
    assert SubscriptionEvent.objects.count() == 2


def test_keys_belong_to_one_client(staff, code):
    other = token_client(*STAFF_PERMS)
    post(staff, BODY, "shared")
    second = post(other, {**BODY, "keyword": "VIP"}, "shared")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers


def test_client_errors_are_replayed_too(staff, code):
    first = post(staff, {**BODY, "keyword": "NOPE"}, "key-bad")
    again = post(staff, {**BODY, "keyword": "NOPE"}, "key-bad")
    assert first.status_code == again.status_code == 400
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"


def test_a_key_expires_after_24_hours(staff, code):
    post(staff, BODY, "old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    staff.post("/api/v1/opt-outs/", BODY, format="json")
    again = post(staff, BODY, "old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert Subscription.objects.get().status == "opted_in"


def test_a_blank_or_oversized_key_is_400(staff, code):
    assert "Idempotency-Key" in post(staff, BODY, " ").json()
    assert post(staff, BODY, "k" * 256).status_code == 400
    assert not SubscriptionEvent.objects.exists()


def test_configuration_posts_are_idempotent_too(staff, code):
    body = {"word": "DEALS"}
    first = post(staff, body, "kw", url="/api/v1/short-codes/12345/keywords/")
    again = post(staff, body, "kw", url="/api/v1/short-codes/12345/keywords/")
    assert (first.status_code, again.status_code) == (201, 201)
    assert code.keywords.filter(word="DEALS").count() == 1


def test_replay_runs_no_service(staff, code, monkeypatch):
    from subscriptions.consent import services

    post(staff, BODY, "key-1")
    monkeypatch.setattr(services, "opt_in", lambda *a, **k: pytest.fail("ran again"))
    assert post(staff, BODY, "key-1").status_code == 201


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_apply_once(code):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection
    from rest_framework.test import APIClient

    auth = token_client(*STAFF_PERMS)._credentials
    start = Barrier(4)

    def send(_):
        client = APIClient()
        client.credentials(**auth)
        start.wait()
        try:
            response = post(client, BODY, "race")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert {status for status, _ in answers} == {201}
    assert all(body == answers[0][1] for _, body in answers)
    assert SubscriptionEvent.objects.count() == 1
    assert IdempotencyKey.objects.get().status_code == 201


def test_an_answer_echoing_nul_and_surrogates_is_kept_and_replayed(staff):
    raw = '{"name": "x", "settings": {"bad\\u0000key\\ud800": "v"}}'

    def send():
        return staff.post(
            "/api/v1/providers/",
            raw,
            content_type="application/json",
            headers={"Idempotency-Key": "odd"},
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 400
    assert "settings" in first.json()
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
