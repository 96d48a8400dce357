"""Issue 16: the admin login is throttled per address and per username."""

import pytest
from django.core.cache import cache

from subscriptions.admin import login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()


def attempt(client, username, password):
    return client.post("/admin/login/", {"username": username, "password": password})


def test_guessing_a_password_is_refused_after_the_limit_even_with_the_right_one(client):
    UserFactory(username="alice", password="right-horse", is_staff=True)
    for _ in range(login.PER_USERNAME):
        assert attempt(client, "alice", "wrong").status_code == 200  # the form again

    response = attempt(client, "alice", "right-horse")

    assert response.status_code == 429
    assert response["Retry-After"] == str(login.WINDOW)
    assert "_auth_user_id" not in client.session


def test_one_address_trying_many_usernames_is_refused(client):
    for n in range(login.PER_ADDRESS):
        attempt(client, f"user{n}", "wrong")
    assert attempt(client, "someone", "x").status_code == 429


def test_a_successful_sign_in_below_the_limit_works_and_clears_the_count(client):
    UserFactory(username="bob", password="pw-bob-123", is_staff=True)
    attempt(client, "bob", "wrong")
    assert attempt(client, "bob", "pw-bob-123").status_code == 302
    assert client.get("/admin/login/").status_code in (200, 302)
