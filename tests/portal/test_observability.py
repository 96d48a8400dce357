import json
import logging

import pytest

from portal.observability import JsonFormatter, RequestIdFilter, bind_request_id

pytestmark = pytest.mark.django_db


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_sane_caller_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"})["X-Request-ID"] == (
        "lb-1234abcd"
    )
    hostile = client.get("/healthz", headers={"X-Request-ID": "x\n<script>"})["X-Request-ID"]
    assert hostile != "x\n<script>" and len(hostile) == 32


def test_log_records_carry_the_bound_request_id_as_json():
    record = logging.LogRecord("subscriptions", logging.INFO, __file__, 1, "sent %s", ("x",), None)
    with bind_request_id("req-12345678"):
        RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["request_id"], entry["message"], entry["level"]) == (
        "req-12345678",
        "sent x",
        "INFO",
    )


@pytest.mark.django_db(transaction=True)
def test_the_request_id_travels_with_the_task_into_the_worker_log_lines(client, caplog, settings):
    """An API opt-in enqueues its delivery on the database queue with the request's id; the
    worker that runs it later logs the provider call under that id."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult
    from rest_framework.authtoken.models import Token

    from tests.factories import KeywordFactory, UserFactory

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": settings.TASK_QUEUES}
    }
    keyword = KeywordFactory()
    token = Token.objects.create(user=UserFactory(is_superuser=True)).key
    response = client.post(
        "/api/v1/opt-ins/",
        {"phone": "15555551212", "short_code": keyword.short_code.code, "keyword": keyword.word},
        content_type="application/json",
        headers={"Authorization": f"Token {token}", "X-Request-ID": "req-abc-12345"},
    )
    assert response.status_code == 201
    queued = DBTaskResult.objects.get()
    assert queued.args_kwargs["kwargs"] == {"request_id": "req-abc-12345"}

    caplog.set_level(logging.INFO)
    call_command("db_worker", "--batch", "--queue-name", "*")
    provider_lines = [r for r in caplog.records if r.name.startswith("subscriptions.providers")]
    assert provider_lines, "the console provider logs what it would send"
    assert {getattr(r, "request_id", None) for r in provider_lines} == {"req-abc-12345"}
