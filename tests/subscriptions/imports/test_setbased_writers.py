"""Several writers of one set-based import (PORTAL_IMPORT_WRITERS; imports/setbased.py):
each applies its own share of the numbers on its own connection, in file order, and
records its own cursor, so that a takeover or a resume never applies a row twice."""

import io

import pytest
from django.db import connection
from django.test import override_settings

from subscriptions.consent.signals import subscription_changed
from subscriptions.imports import chunks, setbased, writers
from subscriptions.models import (
    ImportJob,
    ImportStatus,
    ProviderSync,
    Subscription,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.imports.helpers import csv_bytes

pytestmark = [pytest.mark.postgres]

PHONES = [f"+1202555{n:04d}" for n in range(240)]


def _rows(code="12345"):
    """Every number three times (opt in, out, in again) on two programs, interleaved."""
    rows = []
    for step, status in enumerate(["Active", "Unsubscribe", "Active"]):
        for n, phone in enumerate(PHONES):
            word = "DEALS" if n % 3 else "NEWS"
            rows.append(f"{phone},{code},{word},{status},2025-01-0{step + 1}T00:00:00Z,")
    rows.insert(5, "not-a-number,12345,DEALS,Active,,")
    return csv_bytes(*rows)


@pytest.fixture
def programs():
    for number in ("12345", "67890"):
        code = ShortCodeFactory(code=number)
        for word in ("DEALS", "NEWS"):
            KeywordFactory(short_code=code, word=word)


def _import(writers, chunk_size, code="12345"):
    job = ImportJob.objects.create(file_name=f"members-{writers}.csv")
    with override_settings(PORTAL_IMPORT_WRITERS=writers):
        setbased.run(job, lambda: io.BytesIO(_rows(code)), chunk_size=chunk_size)
    job.refresh_from_db()
    return job


def _subscriptions(code):
    return sorted(
        Subscription.objects.filter(short_code__code=code).values_list(
            "contact__phone", "keyword__word", "status", "last_occurred_at"
        )
    )


def _state(job):
    events = SubscriptionEvent.objects.filter(detail__import_job=job.pk)
    history = sorted(
        (e.contact.phone, e.id, e.keyword.word, e.outcome, e.new_status, e.detail["line"])
        for e in events.select_related("contact", "keyword")
    )
    # Each number's history in the order it was written, without the ids themselves.
    history = [row[:1] + row[2:] for row in history]
    outbox = sorted(
        (s.contact.phone, s.event.detail["line"])
        for s in ProviderSync.objects.filter(event__in=events).select_related("contact", "event")
    )
    counters = (
        job.status,
        job.cursor,
        job.processed,
        job.applied,
        job.refused,
        job.unchanged,
        job.errors,
    )
    return history, outbox, counters


@pytest.mark.django_db(transaction=True)
def test_writers_on_their_own_connections_end_where_one_writer_does(programs):
    announced = []

    def receiver(sender, events, **kwargs):
        announced.append(list(events.values_list("id", flat=True)))

    subscription_changed.connect(receiver, dispatch_uid="test-writers")
    try:
        three = _import(writers=3, chunk_size=40)
    finally:
        subscription_changed.disconnect(dispatch_uid="test-writers")
    assert three.part_cursors == [len(PHONES) * 3 + 1] * 3

    # Each chunk announced its own events: none twice, none left out.
    ids = [event for chunk in announced for event in chunk]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(
        SubscriptionEvent.objects.filter(
            detail__import_job=three.pk, outcome="applied"
        ).values_list("id", flat=True)
    )
    assert len(announced) > 3

    # The same file on another code (nothing there yet either) with one writer.
    one = _import(writers=1, chunk_size=120, code="67890")
    assert _state(one) == _state(three)
    assert _state(one)[2] == (ImportStatus.DONE, 721, 721, 480, 240, 0, 1)
    assert _subscriptions("67890") == _subscriptions("12345")


@pytest.mark.django_db
def test_a_writer_whose_cursor_another_runner_moved_rolls_its_chunk_back(programs):
    job = ImportJob.objects.create(file_name="members.csv")
    real_write = writers.write_chunk

    def write(state, writer, chunk):
        if writer == 1:
            # Another runner took the job over and committed writer 1's first chunk.
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE subscriptions_importjob SET part_cursors = "
                    "jsonb_set(part_cursors, '{1}', '50') WHERE id = %s",
                    [job.pk],
                )
        return real_write(state, writer, chunk)

    writers.write_chunk = write
    try:
        with override_settings(PORTAL_IMPORT_WRITERS=2), pytest.raises(setbased.ImportConflict):
            setbased.run(job, lambda: io.BytesIO(_rows()), chunk_size=25)
    finally:
        writers.write_chunk = real_write
    job.refresh_from_db()
    lines = set(
        SubscriptionEvent.objects.filter(detail__import_job=job.pk).values_list(
            "detail__line", flat=True
        )
    )
    # Writer 0's first chunk stands; nothing of writer 1's.
    assert lines and all(chunks.writer_of(_phone_of(line), 2) == 0 for line in lines)
    assert job.part_cursors == [50, 50] and job.status == ImportStatus.RUNNING
    assert job.processed == len(lines)  # the bad row (position 5) is writer 1's


def _phone_of(line):
    return _rows().decode().splitlines()[line - 1].split(",")[0]


@pytest.mark.django_db
def test_a_resumed_import_keeps_the_writers_it_started_with(programs, settings):
    job = ImportJob.objects.create(
        file_name="members.csv", status=ImportStatus.FAILED, part_cursors=[0, 0]
    )
    settings.PORTAL_IMPORT_WRITERS = 3
    setbased.run(job, lambda: io.BytesIO(_rows()), resume=True)
    job.refresh_from_db()
    assert job.part_cursors == [721, 721]
    assert (job.status, job.processed, job.errors) == (ImportStatus.DONE, 721, 1)


def test_a_number_goes_to_the_same_writer_in_every_process():
    # crc32, not Python's hash of a str (salted per process): fixed values.
    assert [chunks.writer_of(phone, 3) for phone in PHONES[:6]] == [0, 0, 0, 1, 0, 1]
    assert chunks.writer_of("+12025550000", 1) == 0
    assert {chunks.writer_of(phone, 2) for phone in PHONES} == {0, 1}
