"""limits.admit without Redis: hits counted in the process, added to the shared row in
batches; exact near the limit; what several processes may let through is bounded."""

import pytest

from subscriptions.common import limits
from subscriptions.models import RateLimitCounter

pytestmark = pytest.mark.django_db

BIG = 10_000


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def shared(key):
    row = RateLimitCounter.objects.filter(key=key).first()
    return row.count if row else 0


def test_hits_reach_the_row_in_batches(django_assert_num_queries):
    clock = Clock()
    with django_assert_num_queries(2):  # the window's first hit, then one per FLUSH_HITS
        hits = limits.FLUSH_HITS + 1
        assert all(limits.admit("k", 60, BIG, clock=clock) for _ in range(hits))
    assert shared("k") == limits.FLUSH_HITS + 1


def test_pending_hits_are_added_after_flush_seconds():
    clock = Clock()
    limits.admit("k", 60, BIG, clock=clock)  # the first batch: one hit
    limits.admit("k", 60, BIG, clock=clock)
    assert shared("k") == 1
    clock.now += limits.FLUSH_SECONDS
    limits.admit("k", 60, BIG, clock=clock)
    assert shared("k") == 3


def test_near_the_limit_every_hit_is_counted_exactly():
    clock = Clock()
    limit = limits.EXACT_MARGIN + 10
    answers = [limits.admit("k", 60, limit, clock=clock) for _ in range(limit + 5)]
    assert answers == [True] * limit + [False] * 5


def test_small_limits_are_exact_from_the_first_hit(django_assert_num_queries):
    clock = Clock()
    with django_assert_num_queries(4):
        answers = [limits.admit("k", 60, 3, clock=clock) for _ in range(4)]
    assert answers == [True, True, True, False]


def test_several_processes_let_through_at_most_their_unflushed_hits(monkeypatch):
    """Three processes (three local tables) hammer one key: admitted hits stay within the
    limit plus FLUSH_HITS - 1 per other process."""
    clock = Clock()
    processes = [{}, {}, {}]
    limit = limits.EXACT_MARGIN + 200
    admitted = 0
    for i in range(3 * limit):
        monkeypatch.setattr(limits, "_local", processes[i % 3])
        admitted += limits.admit("k", 60, limit, clock=clock)
    assert limit <= admitted <= limit + 2 * (limits.FLUSH_HITS - 1)


def test_a_new_window_starts_from_nothing_and_reset_forgets():
    clock = Clock()
    for _ in range(5):
        limits.admit("k", 60, BIG, clock=clock)
    clock.now += 61
    limits.reset("k")
    RateLimitCounter.objects.all().delete()
    limits.admit("k", 60, BIG, clock=clock)
    assert shared("k") == 1


@pytest.fixture
def redis_like_cache(settings, monkeypatch):
    """A cache whose incr is atomic (as Redis's is), standing in for Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    monkeypatch.setattr(limits, "_counts_in_cache", lambda: True)


def test_with_redis_each_hit_is_counted_in_the_cache(redis_like_cache):
    assert [limits.admit("r", 60, 2) for _ in range(3)] == [True, True, False]
    assert not RateLimitCounter.objects.exists()
