"""Per-process caches: kept until invalidated, here at once and in other processes through
the shared generation mark (checked at most every CHECK_SECONDS)."""

import pytest

from subscriptions.common import memo

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def loader(values):
    calls = []

    def load():
        calls.append(1)
        return values.get("v")

    return load, calls


def test_a_value_is_loaded_once_and_none_is_never_kept():
    values = {}
    load, calls = loader(values)
    assert memo.lookup("t", "k", load) is None
    values["v"] = "x"
    assert memo.lookup("t", "k", load) == "x"  # a miss was not kept
    assert memo.lookup("t", "k", load) == "x"
    assert len(calls) == 2


def test_invalidate_drops_the_namespace_here_at_once(django_capture_on_commit_callbacks):
    values = {"v": "old"}
    load, _ = loader(values)
    memo.lookup("t", "k", load)
    memo.lookup("other", "k", load)
    values["v"] = "new"
    with django_capture_on_commit_callbacks(execute=True):
        memo.invalidate("t")
    assert memo.lookup("t", "k", load) == "new"
    assert memo.lookup("other", "k", load) == "old"  # other namespaces are kept


def test_another_process_sees_the_change_within_check_seconds(django_capture_on_commit_callbacks):
    clock = Clock()
    values = {"v": "old"}
    load, _ = loader(values)
    assert memo.lookup("t", "k", load, clock=clock) == "old"
    # Another process changes the row: only the shared mark moves (as _published does there).
    values["v"] = "new"
    memo.cache.set(memo._shared_key("t"), "elsewhere", None)
    clock.now += memo.CHECK_SECONDS / 2
    assert memo.lookup("t", "k", load, clock=clock) == "old"  # not checked yet
    clock.now += memo.CHECK_SECONDS
    assert memo.lookup("t", "k", load, clock=clock) == "new"


def test_a_load_begun_before_an_invalidation_is_not_kept():
    values = {"v": "old"}

    def load():
        memo.invalidate("t")  # the row changes while it is being read
        return values["v"]

    assert memo.lookup("t", "k", load) == "old"
    values["v"] = "new"
    assert memo.lookup("t", "k", lambda: values["v"]) == "new"


def test_nothing_is_kept_longer_than_max_age():
    clock = Clock()
    values = {"v": "old"}
    load, _ = loader(values)
    memo.lookup("t", "k", load, clock=clock)
    values["v"] = "new"  # changed behind the signals' back (QuerySet.update)
    clock.now += memo.MAX_AGE_SECONDS
    assert memo.lookup("t", "k", load, clock=clock) == "new"
