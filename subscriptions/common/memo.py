"""Per-process caches of rows that hot requests read every time and that rarely change: API
tokens with their users and permissions, short codes, keywords, provider accounts, the
active webhook endpoints.

`lookup(namespace, key, load)` answers from this process's memory, or calls `load()` once and
keeps what it returns (None is never kept: an unknown token or code is asked again, so random
keys cannot fill the memory). `invalidate(namespace)` drops a whole namespace; receivers in
`subscriptions.common.memo_signals` call it on every save, delete and permission change of
the rows a namespace holds.

Invalidation reaches every process:
- in the process that made the change, at once (and again when its transaction commits, so
  a request that read the old row meanwhile cannot keep it);
- in the others through a generation mark in the shared cache (Redis or the database
  cache), written on commit; each process compares its mark at most every CHECK_SECONDS
  per namespace, so another process sees a change within about a second (a revoked token
  or a removed permission keeps working elsewhere for at most that long). Whatever happens
  to the mark, nothing is kept longer than MAX_AGE_SECONDS.
Changes that bypass signals (QuerySet.update, raw SQL) must call `invalidate` themselves.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
MAX_AGE_SECONDS = 300.0  # kept at most this long whatever happens (a lost mark, a bypass)
MAX_ENTRIES = 20_000  # a namespace this full starts over (bounded memory)

AUTH = "auth"
CATALOG = "catalog"
WEBHOOKS = "webhooks"


class _Space:
    __slots__ = ("born", "checked_at", "entries", "epoch", "generation")

    def __init__(self):
        self.entries: dict = {}
        self.generation = None
        self.checked_at = float("-inf")
        self.epoch = 0  # bumped on every drop: a load begun before it is not kept
        self.born = None  # when the entries started (monotonic), None: not yet


_lock = threading.Lock()
_spaces: dict[str, _Space] = {}


def _space(namespace: str) -> _Space:
    space = _spaces.get(namespace)
    if space is None:
        with _lock:
            space = _spaces.setdefault(namespace, _Space())
    return space


def _shared_key(namespace: str) -> str:
    return f"memo-generation:{namespace}"


def _drop(space: _Space) -> None:
    space.entries = {}
    space.epoch += 1


def _check_shared(namespace: str, space: _Space, now: float) -> None:
    if now - space.checked_at < CHECK_SECONDS:
        return
    try:
        generation = cache.get(_shared_key(namespace))
    except Exception:  # the shared cache is down: keep nothing rather than something stale
        logger.warning("memo: cannot read the generation of %s", namespace, exc_info=True)
        generation = uuid.uuid4().hex
    with _lock:
        if space.born is None or now - space.born >= MAX_AGE_SECONDS:
            _drop(space)
            space.born = now
        if generation != space.generation:
            _drop(space)
            space.generation = generation
        space.checked_at = now


def lookup(
    namespace: str, key: Hashable, load: Callable[[], Any], clock: Callable = time.monotonic
) -> Any:
    """The value kept for `key` in `namespace`, loading (and keeping) it when absent."""
    space = _space(namespace)
    _check_shared(namespace, space, clock())
    entries = space.entries
    if key in entries:
        return entries[key]
    epoch = space.epoch
    value = load()
    if value is not None:
        with _lock:
            if space.epoch == epoch:
                if len(space.entries) >= MAX_ENTRIES:
                    _drop(space)
                    space.epoch = epoch  # this load is still current
                space.entries[key] = value
    return value


def invalidate(namespace: str) -> None:
    """Drop `namespace` here now, and everywhere once the current transaction commits."""
    space = _space(namespace)
    with _lock:
        _drop(space)
    transaction.on_commit(lambda: _published(namespace))


def _published(namespace: str) -> None:
    generation = uuid.uuid4().hex
    try:
        cache.set(_shared_key(namespace), generation, None)
    except Exception:  # the change is committed: never fail its request now
        logger.warning("memo: cannot publish a change of %s", namespace, exc_info=True)
    space = _space(namespace)
    with _lock:
        _drop(space)
        space.generation = generation


def clear_all() -> None:
    """Forget every namespace in this process (tests: rolled-back rows send no signal)."""
    with _lock:
        for space in _spaces.values():
            _drop(space)
            space.checked_at = float("-inf")
            space.born = None
