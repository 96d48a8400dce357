"""Attempt counters: a fixed window from the first hit, one statement per hit in the
database, Redis's atomic INCR when Redis is the cache. Parallel hits: test_limits_concurrency."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.cache.backends import locmem
from django.utils import timezone

from subscriptions.common import limits
from subscriptions.models import RateLimitCounter

pytestmark = pytest.mark.django_db


START = timezone.now()


def _at(monkeypatch, seconds):
    monkeypatch.setattr(limits.timezone, "now", lambda: START + timedelta(seconds=seconds))


def test_hits_count_up_within_the_window_and_start_again_after_it(monkeypatch):
    _at(monkeypatch, 0)
    assert [limits.hit("k", 60) for _ in range(3)] == [1, 2, 3]
    _at(monkeypatch, 59)
    assert limits.hit("k", 60) == 4
    _at(monkeypatch, 61)  # the window runs from the first hit, not the latest
    assert [limits.hit("k", 60) for _ in range(2)] == [1, 2]
    assert RateLimitCounter.objects.get(key="k").count == 2  # one row per key, reused


def test_keys_count_apart_and_reset_forgets_one():
    limits.hit("a", 60)
    limits.hit("a", 60)
    limits.hit("b", 60)
    limits.reset("a")
    assert (limits.hit("a", 60), limits.hit("b", 60)) == (1, 2)


def test_the_count_is_not_in_the_cache():
    # The database cache culls rows when full and can be cleared: neither resets a limit.
    limits.hit("k", 60)
    cache.clear()
    assert limits.hit("k", 60) == 2


def test_only_ended_windows_are_expired(monkeypatch):
    _at(monkeypatch, 0)
    limits.hit("short", 10)
    limits.hit("long", 3600)
    assert list(limits.expired(START + timedelta(seconds=11)).values_list("key", flat=True)) == [
        "short"
    ]


@pytest.fixture
def redis_like_cache(settings, monkeypatch):
    """A cache whose incr is atomic (as Redis's is), standing in for Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    monkeypatch.setattr(limits, "_counts_in_cache", lambda: True)


def test_with_redis_the_count_is_in_the_cache_and_not_in_the_database(redis_like_cache):
    assert [limits.hit("k", 60) for _ in range(3)] == [1, 2, 3]
    limits.reset("k")
    assert limits.hit("k", 60) == 1
    assert not RateLimitCounter.objects.exists()


def test_with_redis_a_key_gone_before_incr_starts_a_new_window(redis_like_cache, monkeypatch):
    limits.hit("k", 60)
    real_add, adds = cache.add, []

    def add_then_expire(key, value, timeout):
        adds.append(key)
        if len(adds) == 1:  # the first add() still sees the key, which then expires
            cache.delete(key)
            return False
        return real_add(key, value, timeout)

    with monkeypatch.context() as m:  # undone while the stand-in cache is still the cache
        m.setattr(cache, "add", add_then_expire)
        assert limits.hit("k", 60) == 1
    assert adds == ["k", "k"]


def test_with_redis_a_key_incr_makes_again_still_expires(redis_like_cache, monkeypatch):
    limits.hit("k", 60)
    with monkeypatch.context() as m:
        # The key expired between incr()'s existence check and INCR, which makes it again
        # with no expiry: it would count forever.
        m.setattr(cache, "incr", lambda key: cache.set(key, 1, timeout=None) or 1)
        assert limits.hit("k", 60) == 1
    later = time.time() + 61
    monkeypatch.setattr(locmem.time, "time", lambda: later)
    assert cache.get("k") is None
