"""Attempt counters for rate limits and throttles, counted atomically so requests fired in
parallel cannot slip past a limit.

A counter counts hits in a fixed window that starts with its first hit and lasts `window`
seconds; the next hit after that starts a new window at 1. Where it is counted:

- with Redis (REDIS_URL), in the cache: Redis INCR is atomic;
- otherwise in the RateLimitCounter table, one INSERT ... ON CONFLICT DO UPDATE ...
  RETURNING statement per hit (PostgreSQL; SQLite >= 3.35). The database cache's incr is
  a read then a write, so parallel hits there read the same count and undercount.

Call it outside long transactions: on PostgreSQL the counter's row stays locked until the
caller's transaction ends, which would make parallel requests wait for each other.
`manage.py prune_logs` deletes expired counter rows.
"""

from datetime import timedelta

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.utils import timezone

from subscriptions.models import RateLimitCounter


def hit(key, window):
    """Count one hit on `key`; returns the hits in its current window, this one included."""
    if _counts_in_cache():
        return _hit_in_cache(key, window)
    return _hit_in_database(key, window)


def reset(key):
    """Forget `key`'s count: its next hit starts a new window."""
    if _counts_in_cache():
        cache.delete(key)
    else:
        RateLimitCounter.objects.filter(key=key).delete()


def expired(now=None):
    """The counter rows whose window has ended (for prune_logs)."""
    return RateLimitCounter.objects.filter(expires_at__lte=now or timezone.now())


def _counts_in_cache():
    return isinstance(caches["default"], RedisCache)


def _hit_in_cache(key, window):
    if cache.add(key, 1, timeout=window):  # the window's first hit
        return 1
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add and incr: this hit starts the next
        return _hit_in_cache(key, window)
    if count == 1:
        # Django's incr checks that the key exists, then INCRs: a key that expired between
        # the two is made again without an expiry, and would count forever.
        cache.touch(key, window)
    return count


def _hit_in_database(key, window):
    now = timezone.now()
    ops = connection.ops
    table, k, count, expires_at = (
        ops.quote_name(name)
        for name in (RateLimitCounter._meta.db_table, "key", "count", "expires_at")
    )
    # Both CASEs read the row as it was before this update: a live window counts on, an
    # ended one starts again at 1 with a new end.
    sql = (
        f"INSERT INTO {table} ({k}, {count}, {expires_at}) VALUES (%s, 1, %s) "
        f"ON CONFLICT ({k}) DO UPDATE SET "
        f"{count} = CASE WHEN {table}.{expires_at} > %s THEN {table}.{count} + 1 ELSE 1 END, "
        f"{expires_at} = CASE WHEN {table}.{expires_at} > %s THEN {table}.{expires_at} "
        f"ELSE EXCLUDED.{expires_at} END "
        f"RETURNING {count}"
    )
    now_value = ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                key,
                ops.adapt_datetimefield_value(now + timedelta(seconds=window)),
                now_value,
                now_value,
            ],
        )
        return cursor.fetchone()[0]
