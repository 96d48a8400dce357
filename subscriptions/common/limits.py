"""Attempt counters for rate limits and throttles, counted atomically so requests fired in
parallel cannot slip past a limit.

A counter counts hits in a fixed window that starts with its first hit and lasts `window`
seconds; the next hit after that starts a new window at 1. Where it is counted:

- with Redis (REDIS_URL), in the cache: Redis INCR is atomic;
- otherwise in the RateLimitCounter table, one INSERT ... ON CONFLICT DO UPDATE ...
  RETURNING statement per hit (PostgreSQL; SQLite >= 3.35). The database cache's incr is
  a read then a write, so parallel hits there read the same count and undercount.

`admit(key, window, limit)` is the API throttle's form, for counters hit by every request:
with Redis it is `hit` (INCR does not serialise anything). Without Redis, one row per token
would put every request of that token on that row's lock, so each process counts its hits
in memory and adds them to the shared row in one UPSERT every FLUSH_HITS hits or
FLUSH_SECONDS, reading back the total of all processes; within EXACT_MARGIN of the limit
(and for any limit below it) every hit is counted on the row, as `hit` does. What it may
let through beyond the limit in one window: the hits other processes have counted but not
yet added, fewer than FLUSH_HITS per other process (and none at all when the limit is under
EXACT_MARGIN): 3 web processes and 1200/min admit at most 1,200 + 2 x 15.

Call it outside long transactions: on PostgreSQL the counter's row stays locked until the
caller's transaction ends, which would make parallel requests wait for each other.
`manage.py prune_logs` deletes expired counter rows.
"""

import threading
import time
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


FLUSH_HITS = 16
FLUSH_SECONDS = 1.0
EXACT_MARGIN = 4 * FLUSH_HITS
MAX_LOCAL_WINDOWS = 10_000


class _LocalWindow:
    __slots__ = ("ends", "flushed_at", "pending", "shared")

    def __init__(self, now, window):
        self.shared = 0  # the row's count at the last flush (every process's hits)
        self.pending = 0  # this process's hits not yet added to the row
        self.flushed_at = float("-inf")  # the first hit reads the count of the others
        self.ends = now + window


_local_lock = threading.Lock()
_local: dict[str, _LocalWindow] = {}


def admit(key, window, limit, clock=time.monotonic):
    """Count one hit on `key` (a counter whose key names its window, as the throttle's do)
    and say whether it is within `limit`; see the module docstring for the bound."""
    if _counts_in_cache():
        return _hit_in_cache(key, window) <= limit
    now = clock()
    with _local_lock:
        local = _local.get(key)
        if local is None or local.ends <= now:
            if len(_local) >= MAX_LOCAL_WINDOWS:
                for old in [k for k, w in _local.items() if w.ends <= now] or list(_local):
                    del _local[old]
            local = _local[key] = _LocalWindow(now, window)
        local.pending += 1
        estimate = local.shared + local.pending
        if (
            local.pending < FLUSH_HITS
            and now - local.flushed_at < FLUSH_SECONDS
            and estimate <= limit - EXACT_MARGIN
        ):
            return True
        hits, local.pending, local.flushed_at = local.pending, 0, now
    total = _hit_in_database(key, window, hits)
    with _local_lock:
        local.shared = max(local.shared, total)
    return total <= limit


def forget_local():
    """Drop this process's uncounted hits (tests; the rows themselves are not touched)."""
    with _local_lock:
        _local.clear()


def reset(key):
    """Forget `key`'s count: its next hit starts a new window."""
    with _local_lock:
        _local.pop(key, None)
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


def _hit_in_database(key, window, hits=1):
    now = timezone.now()
    ops = connection.ops
    table, k, count, expires_at = (
        ops.quote_name(name)
        for name in (RateLimitCounter._meta.db_table, "key", "count", "expires_at")
    )
    # Both CASEs read the row as it was before this update: a live window counts on, an
    # ended one starts again at 1 with a new end.
    sql = (
        f"INSERT INTO {table} ({k}, {count}, {expires_at}) VALUES (%s, %s, %s) "
        f"ON CONFLICT ({k}) DO UPDATE SET "
        f"{count} = CASE WHEN {table}.{expires_at} > %s THEN {table}.{count} + EXCLUDED.{count} "
        f"ELSE EXCLUDED.{count} END, "
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
                hits,
                ops.adapt_datetimefield_value(now + timedelta(seconds=window)),
                now_value,
                now_value,
            ],
        )
        return cursor.fetchone()[0]
