"""imports/chunks.py: a chunk's times are parsed once each, with the per-row path's answers;
the staging rows are COPY text that PostgreSQL reads back as the values."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscriptions.imports import chunks, pipeline
from subscriptions.imports.pipeline import RowError


@pytest.fixture
def parses(monkeypatch):
    """The texts the per-row parser was asked to read, in order."""
    seen = []
    real = pipeline._parse_occurred_at

    def counting(text):
        seen.append(text)
        return real(text)

    monkeypatch.setattr(pipeline, "_parse_occurred_at", counting)
    return seen


def test_an_accepted_time_is_parsed_once_per_chunk(parses):
    times = chunks.ChunkTimes()
    first = times("2025-01-01T00:00:00Z")
    again = times("2025-01-01T00:00:00Z")
    other = times("2025-01-02T08:30:00+02:00")
    assert first == again == datetime(2025, 1, 1, tzinfo=UTC)
    assert other == datetime(2025, 1, 2, 6, 30, tzinfo=UTC)
    assert parses == ["2025-01-01T00:00:00Z", "2025-01-02T08:30:00+02:00"]


def test_a_new_chunk_parses_its_times_again(parses):
    chunks.ChunkTimes()("2025-01-01T00:00:00Z")
    chunks.ChunkTimes()("2025-01-01T00:00:00Z")
    assert len(parses) == 2


def test_a_refused_time_is_refused_every_time_with_the_per_row_message(parses):
    future = (timezone.now() + timedelta(days=2)).isoformat()
    times = chunks.ChunkTimes()
    messages = []
    for text in ("yesterday", "yesterday", future, future):
        with pytest.raises(RowError) as refused:
            times(text)
        with pytest.raises(RowError) as per_row:
            pipeline._parse_occurred_at(text)
        assert str(refused.value) == str(per_row.value)
        messages.append(str(refused.value))
    assert parses.count("yesterday") == 4  # twice by the chunk, twice by the comparison
    assert "in the future" in messages[2]


def test_no_time_is_none(parses):
    assert chunks.ChunkTimes()("") is None


def test_it_remembers_a_bounded_number_of_times(parses, monkeypatch):
    monkeypatch.setattr(chunks, "TIMES_REMEMBERED", 2)
    times = chunks.ChunkTimes()
    texts = [f"2025-01-0{day}T00:00:00Z" for day in (1, 2, 3)]
    for text in texts + texts:
        times(text)
    # The first two were remembered; the third is parsed each time it comes.
    assert parses == [*texts, texts[2]]


@pytest.mark.postgres
@pytest.mark.django_db
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8")))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_copy_text_reads_back_as_the_text(text):
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS copy_text_check (a text, b text)")
        cur.execute("TRUNCATE copy_text_check")
        with cur.cursor.copy("COPY copy_text_check (a, b) FROM STDIN") as copy:
            copy.write(f"{chunks.copy_text(text)}\tafter\n")
        cur.execute("SELECT a, b FROM copy_text_check")
        assert cur.fetchall() == [(text, "after")]
