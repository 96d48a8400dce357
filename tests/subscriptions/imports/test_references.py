"""Set-wise foreign-key checks of a set-based import chunk (imports/references.py, ADR 0007),
PostgreSQL only: the per-row triggers are skipped only where every key is checked after."""

import io

import pytest
from django.db import IntegrityError, connection, transaction

from subscriptions.imports import chunks, references, setbased
from subscriptions.imports import setbased_sql as sql
from subscriptions.models import ImportJob, ImportStatus, Status, Subscription, SubscriptionEvent
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.imports.helpers import csv_bytes, dangling_keys, run_csv

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def programs():
    code = ShortCodeFactory(code="12345")
    return [KeywordFactory(short_code=code, word=word) for word in ("DEALS", "NEWS")]


def some_rows():
    return csv_bytes(
        "+12025550101,12345,DEALS,Active,2025-01-01T00:00:00Z,Text DEALS",
        "+12025550102,12345,NEWS,Active,2025-01-01T00:00:00Z,Text NEWS",
        "+12025550101,12345,NEWS,Unsubscribe,2025-01-02T00:00:00Z,",
    )


def test_the_test_role_may_skip_row_checks_so_imports_check_set_wise(settings):
    settings.PORTAL_IMPORT_FK_CHECKS = "setwise"
    assert references.may_skip_row_checks()  # CI's role is a superuser
    assert setbased.fk_mode() == "setwise"


@pytest.mark.parametrize("mode", ["setwise", "immediate", "deferred"])
def test_every_mode_writes_the_same_rows(settings, programs, mode):
    settings.PORTAL_IMPORT_FK_CHECKS = mode
    job = run_csv(some_rows())
    assert (job.applied, job.errors) == (3, 0)
    held = Subscription.objects.values_list("contact__phone", "keyword__word", "status")
    assert sorted(held) == [
        ("+12025550101", "DEALS", Status.OPTED_IN),
        ("+12025550101", "NEWS", Status.OPTED_OUT),
        ("+12025550102", "NEWS", Status.OPTED_IN),
    ]
    # Back to the ordinary checks once the chunk's writes are done.
    with connection.cursor() as cur:
        cur.execute("SHOW session_replication_role")
        assert cur.fetchone()[0] == "origin"


def test_a_role_that_may_not_skip_them_checks_row_by_row(settings, monkeypatch, programs):
    settings.PORTAL_IMPORT_FK_CHECKS = "setwise"
    monkeypatch.setattr(references, "may_skip_row_checks", lambda: False)
    assert setbased.fk_mode() == "immediate"
    assert run_csv(some_rows()).applied == 3


def test_an_unknown_mode_is_refused(settings, programs):
    settings.PORTAL_IMPORT_FK_CHECKS = "never"
    with pytest.raises(setbased.ImportFileError, match="PORTAL_IMPORT_FK_CHECKS"):
        setbased.fk_mode()


def test_every_foreign_key_of_the_written_tables_is_checked_or_held():
    assert references.parents() == {
        "auth_user": "locked",
        "subscriptions_contact": "held",
        "subscriptions_keyword": "locked",
        "subscriptions_provideraccount": "locked",
        "subscriptions_shortcode": "locked",
        "subscriptions_shortcodestop": "locked",
        "subscriptions_subscription": "locked",
        "subscriptions_subscriptionevent": "held",
    }
    checked = {table for table, _statement in references.check_statements()}
    assert checked == {t for t, how in references.parents().items() if how == "locked"}


def test_an_import_leaves_no_key_without_its_parent(programs):
    run_csv(some_rows())
    assert dangling_keys() == {}


def test_a_key_without_its_parent_fails_the_check(programs):
    run_csv(some_rows())
    event = SubscriptionEvent.objects.order_by("pk").first()
    with (
        pytest.raises(IntegrityError, match="subscriptions_keyword"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        for statement in sql.SETUP:
            cur.execute(statement)
        references.skip_row_checks(cur)
        cur.execute(
            "WITH ev AS (INSERT INTO subscriptions_subscriptionevent (contact_id,"
            " short_code_id, keyword_id, action, old_status, new_status, outcome, reason,"
            " source, actor_label, occurred_at, recorded_at, consent_text, user_agent,"
            " external_id, raw_payload, detail)"
            " SELECT contact_id, short_code_id, 987654321, action, old_status, new_status,"
            " outcome, reason, source, actor_label, occurred_at, recorded_at, consent_text,"
            " user_agent, external_id, raw_payload, detail"
            " FROM subscriptions_subscriptionevent WHERE id = %s"
            f" RETURNING {references.returning(SubscriptionEvent)})"
            f" {references.collect('ev', SubscriptionEvent)}",
            [event.pk],
        )
        references.restore_row_checks(cur)
        references.check_written(cur)


def test_the_keys_of_every_written_row_are_collected_and_the_check_passes(programs):
    """The keys of the parents the chunk does not hold are recorded, each once."""
    run_csv(some_rows())
    with transaction.atomic(), connection.cursor() as cur:
        for statement in sql.SETUP:
            cur.execute(statement)
        cur.execute(
            "WITH ev AS (SELECT * FROM subscriptions_subscriptionevent)"
            f" {references.collect('ev', SubscriptionEvent)}"
        )
        cur.execute("SELECT parent, count(*) FROM import_keys GROUP BY parent")
        counts = dict(cur.fetchall())
        references.check_written(cur)
    assert counts == {
        "subscriptions_keyword": 2,
        "subscriptions_shortcode": 1,
        "subscriptions_subscription": 3,
    }


def test_the_history_stays_append_only_while_row_checks_are_skipped(programs):
    run_csv(some_rows())
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        references.skip_row_checks(cur)
        cur.execute("UPDATE subscriptions_subscriptionevent SET reason = 'x'")


def test_a_failure_while_parsing_ahead_fails_the_import_after_the_committed_chunks(
    monkeypatch, programs, settings
):
    """The next chunk is parsed in a thread (imports/chunks.py ParsedAhead): what goes wrong there
    is raised in the import's own thread, and the chunks committed before stay (resumable)."""
    calls = []
    real_parse = chunks.parse_chunk

    def parse(state, reader, header, start):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk went away")
        return real_parse(state, reader, header, start)

    monkeypatch.setattr(chunks, "parse_chunk", parse)
    settings.PORTAL_IMPORT_WRITERS = 1
    job = ImportJob.objects.create(file_name="members.csv")
    with pytest.raises(RuntimeError, match="the disk went away"):
        setbased.run(job, lambda: io.BytesIO(some_rows()), chunk_size=2)
    job.refresh_from_db()
    assert (job.status, job.cursor, job.applied) == (ImportStatus.FAILED, 2, 2)
    assert "the disk went away" in job.failure
