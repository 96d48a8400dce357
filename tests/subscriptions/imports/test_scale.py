"""The import streams: peak memory does not grow with the file."""

import functools
import tracemalloc

import pytest

from subscriptions.imports import pipeline
from subscriptions.models import ImportJob
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def outbox_left_out():
    """Every chunk commits in production, running its outbox enqueues; inside the test's
    one wrapping transaction they would all wait for the end and be counted as import
    memory. The import engine is what is measured here; the outbox is measured elsewhere."""
    from subscriptions.consent.signals import subscription_changed
    from subscriptions.delivery import receivers

    subscription_changed.disconnect(dispatch_uid="provider_sync")
    yield
    subscription_changed.connect(receivers.write_provider_syncs, dispatch_uid="provider_sync")


def write_csv(path, rows, first=0):
    with open(path, "w") as out:
        out.write("phone,short_code,keyword,status,occurred_at,consent_text\n")
        for n in range(first, first + rows):
            out.write(f"+1555{n:07d},12345,JOIN,Active,,Text JOIN to 12345 for deals\n")


def peak_memory_of_import(path):
    job = ImportJob.objects.create(file_name=path.name)
    tracemalloc.start()
    try:
        pipeline.run(job, functools.partial(open, path, "rb"))  # run() closes it
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_stays_bounded_when_the_file_grows_tenfold(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 100)
    KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="JOIN")
    warm_up, small, large = tmp_path / "warm.csv", tmp_path / "small.csv", tmp_path / "large.csv"
    write_csv(warm_up, 500, first=100_000)
    write_csv(small, 500)
    write_csv(large, 5_000, first=500)
    peak_memory_of_import(warm_up)  # first-use allocations (caches, statements) out of the way
    small_peak = peak_memory_of_import(small)
    large_peak = peak_memory_of_import(large)
    # Keeping the rows of a 10x larger file would need ~10x the memory (several MB here);
    # streaming stays near the small file's peak.
    assert large_peak < small_peak * 2, (small_peak, large_peak)
    assert ImportJob.objects.get(file_name="large.csv").applied == 5_000
