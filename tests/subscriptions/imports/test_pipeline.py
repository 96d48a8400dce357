"""The CSV import engine against the seed 001 rules (docs/rules.md "import" rows)."""

import io
import tracemalloc
from datetime import UTC, datetime

import pytest

from subscriptions.consent import batch, services
from subscriptions.consent.services import Context
from subscriptions.imports import pipeline
from subscriptions.models import (
    ImportJob,
    ImportStatus,
    KeywordKind,
    Outcome,
    ShortCodeStop,
    Status,
    Subscription,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory, UserFactory
from tests.subscriptions.imports.helpers import csv_bytes, run_csv

pytestmark = pytest.mark.django_db
PHONE = "+15555551212"


@pytest.fixture
def join(code):
    return KeywordFactory(short_code=code, word="JOIN")


@pytest.fixture
def test_kw(code):
    return KeywordFactory(short_code=code, word="TEST")


def status_of(phone, keyword):
    return Subscription.objects.get(contact__phone=phone, keyword=keyword).status


def test_new_subscription_is_opted_in_even_when_the_keyword_needs_double_opt_in(code):
    confirmed = KeywordFactory(short_code=code, word="VIP", double_opt_in=True)
    job = run_csv(csv_bytes("15555551212,12345,vip,Active,,"))
    assert status_of(PHONE, confirmed) == Status.OPTED_IN
    assert (job.status, job.total, job.processed, job.applied) == (ImportStatus.DONE, 1, 1, 1)


def test_opted_out_number_is_not_opted_back_in_and_the_refusal_is_recorded(join):
    services.opt_out(PHONE, join, Context(source="web"))
    job = run_csv(csv_bytes(f"{PHONE},12345,JOIN,Subscribe,,"))
    assert status_of(PHONE, join) == Status.OPTED_OUT
    assert (job.applied, job.refused) == (0, 1)
    event = SubscriptionEvent.objects.get(source="import")
    assert (event.outcome, event.reason) == (
        Outcome.REFUSED,
        "opted out earlier; an import cannot opt back in",
    )


def test_unsubscribe_opts_out_and_creates_a_protecting_row_for_a_new_number(join):
    services.opt_in("+15555550001", join, Context(source="mo"))
    job = run_csv(
        csv_bytes("+15555550001,12345,JOIN,UNSUBSCRIBE,,", "+15555550002,12345,join,unsubscribe,,")
    )
    assert status_of("+15555550001", join) == Status.OPTED_OUT
    assert status_of("+15555550002", join) == Status.OPTED_OUT
    assert job.applied == 2


def test_unsubscribe_then_active_leaves_the_number_opted_out(join):
    """Seed 001: importing Unsubscribe then Active makes the contact active but still
    opted out of the keyword."""
    run_csv(csv_bytes(f"{PHONE},12345,JOIN,Active,,"))
    run_csv(csv_bytes(f"{PHONE},12345,JOIN,Unsubscribe,,"))
    job = run_csv(csv_bytes(f"{PHONE},12345,JOIN,Active,,"))
    assert status_of(PHONE, join) == Status.OPTED_OUT
    assert job.refused == 1


def test_seed_001_example_stop_then_import_only_a_new_keyword_opts_in(code, join, test_kw):
    newkw = KeywordFactory(short_code=code, word="NEWKEYWORD")
    for keyword in (join, test_kw):
        services.opt_in("12345678900", keyword, Context(source="mo"))
    services.stop_all("12345678900", code, Context(source="mo"))
    job = run_csv(
        csv_bytes(
            "12345678900,12345,JOIN,Active,,",
            "12345678900,12345,TEST,Active,,",
            "12345678900,12345,NEWKEYWORD,Active,,",
        )
    )
    phone = "+12345678900"
    assert [status_of(phone, k) for k in (join, test_kw, newkw)] == [
        Status.OPTED_OUT,
        Status.OPTED_OUT,
        Status.OPTED_IN,
    ]
    assert (job.applied, job.refused) == (1, 2)
    # The applied import opt-in lifts the STOP on the code (docs/rules.md).
    assert not ShortCodeStop.objects.filter(cleared_at__isnull=True).exists()


def test_short_code_policy_makes_a_stop_block_imports_of_new_keywords(code, join):
    code.stop_blocks_imports = True
    code.save()
    services.stop_all(PHONE, code, Context(source="mo"))
    job = run_csv(csv_bytes(f"{PHONE},12345,JOIN,Active,,"))
    assert not Subscription.objects.filter(keyword=join).exists()
    assert job.refused == 1
    assert SubscriptionEvent.objects.get(source="import").reason == "sent STOP on this code"


def test_import_cannot_confirm_a_pending_subscription(code):
    vip = KeywordFactory(short_code=code, word="VIP", double_opt_in=True)
    services.opt_in(PHONE, vip, Context(source="mo"))
    job = run_csv(csv_bytes(f"{PHONE},12345,VIP,Active,,"))
    assert status_of(PHONE, vip) == Status.PENDING
    assert (job.applied, job.unchanged) == (0, 1)


def test_already_opted_in_is_no_change(join):
    services.opt_in(PHONE, join, Context(source="mo"))
    job = run_csv(csv_bytes(f"{PHONE},12345,JOIN,active,,"))
    assert (job.applied, job.unchanged) == (0, 1)


def test_row_older_than_the_last_applied_event_is_stale(join):
    services.opt_in(PHONE, join, Context(source="mo"))
    job = run_csv(csv_bytes(f"{PHONE},12345,JOIN,Unsubscribe,2001-01-01T00:00:00Z,"))
    assert status_of(PHONE, join) == Status.OPTED_IN
    assert SubscriptionEvent.objects.get(source="import").outcome == Outcome.STALE
    assert job.unchanged == 1


def test_history_rows_carry_source_file_name_line_time_and_wording(join):
    user = UserFactory(username="marketer")
    run_csv(
        csv_bytes(f'{PHONE},12345,JOIN,Active,2025-03-01T10:00:00,"Text JOIN, get deals"'),
        name="spring.csv",
        user=user,
    )
    event = SubscriptionEvent.objects.get(source="import")
    assert event.actor_label == "spring.csv"
    assert event.actor == user
    assert event.detail["file"] == "spring.csv"
    assert event.detail["line"] == 2
    assert event.occurred_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert event.consent_text == "Text JOIN, get deals"


def test_bad_rows_are_collected_and_every_good_row_is_applied(code, join):
    KeywordFactory(short_code=code, word="STOP1", kind=KeywordKind.STOP)
    data = csv_bytes(
        "+15555550001,12345,JOIN,Active,,",
        "not-a-phone,12345,JOIN,Active,,",
        "+15555550002,99999,JOIN,Active,,",
        "+15555550003,12345,NOPE,Active,,",
        "+15555550004,12345,JOIN,Maybe,,",
        "+15555550005,12345,JOIN,Active,yesterday,",
        "+15555550006,12345,STOP1,Active,,",
        "+15555550007,12345,join,Subscribe,,",
    )
    job = run_csv(data)
    assert (job.total, job.processed, job.applied, job.errors) == (8, 8, 2, 6)
    assert set(Subscription.objects.values_list("contact__phone", flat=True)) == {
        "+15555550001",
        "+15555550007",
    }
    rows = list(pipeline.errors_csv_rows(job))
    assert rows[0] == ["line", "phone", "short_code", "keyword", "status", "error"]
    assert [(r[0], r[5]) for r in rows[1:]] == [
        (3, "'not-a-phone' is not a valid phone number."),
        (4, "unknown short code 99999"),
        (5, "unknown keyword NOPE on short code 12345"),
        (6, "status 'Maybe' is not Active, Subscribe or Unsubscribe"),
        (7, "occurred_at 'yesterday' is not an ISO 8601 date and time"),
        (8, "STOP1 is a stop keyword, not a program"),
    ]


def test_dry_run_reports_what_would_change_and_changes_nothing(join):
    services.opt_out("+15555550009", join, Context(source="web"))
    before = SubscriptionEvent.objects.count()
    job = run_csv(
        csv_bytes(
            "+15555550001,12345,JOIN,Active,,",
            "+15555550009,12345,JOIN,Active,,",
            "bad,12345,JOIN,Active,,",
        ),
        dry_run=True,
    )
    assert (job.status, job.applied, job.refused, job.errors) == (ImportStatus.DONE, 1, 1, 1)
    assert SubscriptionEvent.objects.count() == before
    assert Subscription.objects.count() == 1
    assert not Subscription.objects.filter(contact__phone="+15555550001").exists()
    assert job.row_errors.count() == 1


def test_dry_run_predicts_what_the_real_run_does_when_a_later_chunk_sees_an_earlier_one(
    code, join, test_kw, monkeypatch
):
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 1)  # every row is its own chunk
    services.stop_all(
        "+15555550002", code, Context(source="mo", occurred_at=datetime(2025, 1, 1, 10, tzinfo=UTC))
    )
    data = csv_bytes(
        # The opt-out creates the row that refuses the opt-in after it.
        "+15555550001,12345,JOIN,Unsubscribe,2025-01-01T10:00:00Z,",
        "+15555550001,12345,JOIN,Active,2025-01-01T11:00:00Z,",
        # The opt-in lifts the STOP, so the older opt-in after it is no longer stale.
        "+15555550002,12345,JOIN,Active,2025-01-01T11:00:00Z,",
        "+15555550002,12345,TEST,Active,2025-01-01T09:00:00Z,",
    )
    dry = run_csv(data, dry_run=True)
    assert not Subscription.objects.exists()
    real = run_csv(data)
    assert (real.applied, real.refused, real.unchanged) == (3, 1, 0)
    assert (dry.applied, dry.refused, dry.unchanged) == (real.applied, real.refused, real.unchanged)


def test_quoted_newline_in_consent_text_counts_as_one_row(join):
    job = run_csv(csv_bytes(f'{PHONE},12345,JOIN,Active,,"line one\nline two"'))
    assert (job.total, job.applied) == (1, 1)
    assert SubscriptionEvent.objects.get(source="import").consent_text == "line one\nline two"


def test_bom_header_case_and_column_order_do_not_matter(join):
    data = "\ufeffStatus,Keyword,Short_Code,Phone\nactive,join,12345,5555551212\n".encode()
    job = run_csv(data)
    assert job.applied == 1
    assert status_of(PHONE, join) == Status.OPTED_IN


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"phone,keyword\n+15555551212,JOIN\n", "Missing column(s): short_code, status."),
        (b"\xff\xfephone,short_code,keyword,status\n1,2,3,4\n", "The header (line 1) is not UTF-8"),
    ],
)
def test_unreadable_file_fails_the_job_with_a_reason(join, data, message):
    job = ImportJob.objects.create(file_name="x.csv")
    with pytest.raises(pipeline.ImportFileError):
        pipeline.run(job, lambda: io.BytesIO(data))
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.failure.startswith(message)
    assert not Subscription.objects.exists()


def test_a_job_runs_once(join):
    job = run_csv(csv_bytes(f"{PHONE},12345,JOIN,Active,,"))
    with pytest.raises(pipeline.ImportFileError, match="already started"):
        pipeline.run(job, lambda: io.BytesIO(csv_bytes(f"{PHONE},12345,JOIN,Active,,")))
    assert SubscriptionEvent.objects.count() == 1


def test_chunks_use_a_constant_number_of_queries(join, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 50)
    rows = [f"+1555555{n:04d},12345,JOIN,Active,," for n in range(500)]
    # 10 chunks: ~12 queries each (batch + progress), plus the job's own bookkeeping.
    with django_assert_max_num_queries(10 * 14 + 10):
        job = run_csv(csv_bytes(*rows), per_row=True)
    assert job.applied == 500


def test_an_internal_error_marks_the_job_failed_and_keeps_applied_chunks(join, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 1)
    real_apply = batch.apply_batch
    calls = []

    def apply_then_break(rows, ctx, dry_run=False):
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_apply(rows, ctx, dry_run=dry_run)

    monkeypatch.setattr(batch, "apply_batch", apply_then_break)
    job = ImportJob.objects.create(file_name="x.csv")
    data = csv_bytes("+15555550001,12345,JOIN,Active,,", "+15555550002,12345,JOIN,Active,,")
    with pytest.raises(RuntimeError):
        pipeline.run(job, lambda: io.BytesIO(data))
    job.refresh_from_db()
    assert (job.status, job.processed) == (ImportStatus.FAILED, 1)
    assert "database went away" in job.failure
    assert list(Subscription.objects.values_list("contact__phone", flat=True)) == ["+15555550001"]


# Issue 16: times out of range are rejected rows, and never cost a later opt-out ---------------


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2100-01-01T00:00:00Z"]
)
def test_an_occurred_at_out_of_range_is_a_rejected_row_and_its_neighbours_apply(join, when):
    job = run_csv(
        csv_bytes(
            "+15555550001,12345,JOIN,Active,,",
            f"+15555550002,12345,JOIN,Active,{when},",
            "+15555550003,12345,JOIN,Active,2014-07-02T14:32:23-04,",
        )
    )
    assert (job.status, job.applied, job.errors) == (ImportStatus.DONE, 2, 1)
    error = job.row_errors.get()
    assert error.line == 3 and "occurred_at" in error.message
    assert not Subscription.objects.filter(contact__phone="+15555550002").exists()
    assert SubscriptionEvent.objects.filter(source="import").count() == 2


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (b"+15555550002,12345,JOIN,Act\x00ive,,", "NUL"),
        (b"+15555550002,12345,JOIN,Active,,caf\xe9", "not UTF-8"),
        (b"+15555550002,12345,JOIN,Active,," + b"x" * 10_001, "longer than 10000"),
        (b"+15555550002,12345,JOIN,Active,2020-01-01T00:00:00+99:00,", "occurred_at"),
        (b"+15555550002,12345,JOIN,Active,,,extra,columns", "8 fields"),
        (b'+15555550002,12345,JOIN,Active,,"a"b', "not a CSV row"),
        (b"+15555550002,12345,JOIN,Active,," + b"y" * 40_000, "longer than 32768 bytes"),
    ],
)
def test_a_bad_row_is_a_rejected_row_with_its_line_and_its_neighbours_apply(join, bad, words):
    data = csv_bytes("+15555550001,12345,JOIN,Active,,") + bad + b"\n"
    data += b"+15555550003,12345,JOIN,Active,,\n"
    job = run_csv(data)
    assert (job.status, job.total, job.applied, job.errors) == (ImportStatus.DONE, 3, 2, 1)
    error = job.row_errors.get()
    assert error.line == 3 and words in error.message, error.message
    assert set(Subscription.objects.values_list("contact__phone", flat=True)) == {
        "+15555550001",
        "+15555550003",
    }


def test_a_huge_file_without_newlines_is_read_in_bounded_memory(join):
    class Endless(io.RawIOBase):
        """200 MB of one line, produced as it is read (the test holds none of it)."""

        def __init__(self):
            self.left = 200 * 1024 * 1024

        def readable(self):
            return True

        def readinto(self, buffer):
            n = min(len(buffer), self.left)
            buffer[:n] = b"x" * n
            self.left -= n
            return n

    def opener():
        return io.BufferedReader(_Chain(csv_bytes("+15555550001,12345,JOIN,Active,,"), Endless()))

    tracemalloc.start()
    job = ImportJob.objects.create(file_name="huge.csv")
    pipeline.run(job, opener)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    job.refresh_from_db()
    assert (job.status, job.applied, job.errors) == (ImportStatus.DONE, 1, 1)
    assert peak < 20 * 1024 * 1024, peak


class _Chain(io.RawIOBase):
    def __init__(self, head, tail):
        self.head, self.tail = io.BytesIO(head), tail

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.head.readinto(buffer)
        return n if n else self.tail.readinto(buffer)


def test_a_row_the_database_refuses_is_a_rejected_row_and_its_chunk_neighbours_apply(
    join, monkeypatch
):
    real = batch.apply_batch

    def refusing(rows, ctx, **kwargs):
        if any(row.phone == "+15555550002" for row in rows):
            raise pipeline.DatabaseError("value too long")
        return real(rows, ctx, **kwargs)

    monkeypatch.setattr(pipeline.batch, "apply_batch", refusing)
    data = csv_bytes(*(f"+1555555000{i},12345,JOIN,Active,," for i in (1, 2, 3)))
    job = run_csv(data, per_row=True)
    assert (job.status, job.applied, job.errors) == (ImportStatus.DONE, 2, 1)
    assert job.row_errors.get().line == 3


def test_unicode_line_separators_inside_a_field_are_text_not_new_rows(join):
    job = run_csv(csv_bytes("+15555550001,12345,JOIN,Active,,one\u2028two\x0cthree"))
    assert (job.applied, job.errors) == (1, 0)
    assert SubscriptionEvent.objects.get().consent_text == "one\u2028two\x0cthree"


def test_crlf_files_and_quoted_newlines_are_read_as_records(join):
    data = (
        b"phone,short_code,keyword,status,occurred_at,consent_text\r\n"
        b'+15555550001,12345,JOIN,Active,,"line one\r\nline two"\r\n'
        b"+15555550002,12345,JOIN,Active,,\r\n"
    )
    job = run_csv(data)
    assert (job.total, job.applied, job.errors) == (2, 2, 0)
