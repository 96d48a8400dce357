"""Per-token throttling, counted in the shared counters: 429 with Retry-After."""

import pytest
from django.core.cache import cache

from subscriptions.models import RateLimitCounter
from tests.subscriptions.api.conftest import READ_ONLY_PERMS, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_per_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min"},
    }


def test_fourth_request_in_a_minute_is_429_with_retry_after(three_per_minute, code):
    client = token_client(*READ_ONLY_PERMS)
    answers = [client.get("/api/v1/short-codes/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    response = client.get("/api/v1/short-codes/")
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_each_token_has_its_own_count(three_per_minute, code):
    first, second = token_client(*READ_ONLY_PERMS), token_client(*READ_ONLY_PERMS)
    for _ in range(3):
        first.get("/api/v1/short-codes/")
    assert first.get("/api/v1/short-codes/").status_code == 429
    assert second.get("/api/v1/short-codes/").status_code == 200


def test_the_count_is_shared_and_survives_a_cache_flush(three_per_minute, code):
    client = token_client(*READ_ONLY_PERMS)
    for _ in range(3):
        client.get("/api/v1/short-codes/")
    cache.clear()  # the database cache is culled when full: that must not reset a count
    assert client.get("/api/v1/short-codes/").status_code == 429
    RateLimitCounter.objects.all().delete()  # every process counts in this one table
    assert client.get("/api/v1/short-codes/").status_code == 200
