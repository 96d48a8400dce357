"""Attempt limits under requests fired in parallel, on PostgreSQL with real connections:
every attempt is counted, so parallel requests cannot slip past a limit."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from subscriptions.common import limits
from subscriptions.preferences import service
from tests.concurrency import run_together
from tests.subscriptions.api.conftest import READ_ONLY_PERMS, token_client

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PHONE = "+15555551213"


def test_n_concurrent_hits_count_exactly_n():
    counts = []
    run_together(*[lambda: counts.append(limits.hit("test:parallel", 60))] * 20)
    assert sorted(counts) == list(range(1, 21))  # no two hits saw the same count
    assert limits.hit("test:parallel", 60) == 21


def _guess_wrong(outcomes):
    try:
        outcomes.append(service.check_code(PHONE, "not-a-code"))
    except service.TooManyAttempts:
        outcomes.append("refused")


@pytest.mark.parametrize("attempts", [service.MAX_ATTEMPTS + 1, 3 * service.MAX_ATTEMPTS])
def test_parallel_code_guesses_past_the_limit_are_refused(attempts):
    outcomes = []
    run_together(*[lambda: _guess_wrong(outcomes)] * attempts)
    assert outcomes.count(False) == service.MAX_ATTEMPTS
    assert outcomes.count("refused") == attempts - service.MAX_ATTEMPTS


def test_parallel_code_requests_past_the_per_number_limit_are_refused():
    limit, _window = service.PHONE_LIMIT
    outcomes = []

    def ask(address):
        try:
            service.request_code(PHONE, address, "en")
            outcomes.append("sent")
        except service.RateLimited:
            outcomes.append("refused")

    run_together(*[lambda a=f"203.0.113.{i}": ask(a) for i in range(limit + 1)])
    assert sorted(outcomes) == ["refused"] + ["sent"] * limit


@pytest.mark.parametrize("requests", [6, 15])
def test_parallel_api_requests_past_the_throttle_are_refused(settings, requests):
    # A day's window: the test cannot straddle a window boundary.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "5/day"},
    }
    token = Token.objects.get(user=token_client(*READ_ONLY_PERMS).user)
    statuses = []

    def get():  # a client per thread, all with the same token
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        statuses.append(client.get("/api/v1/short-codes/").status_code)

    run_together(*[get] * requests)
    assert statuses.count(200) == 5
    assert statuses.count(429) == requests - 5
