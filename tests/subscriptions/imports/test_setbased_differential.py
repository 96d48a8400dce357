"""The set-based import (imports/setbased.py) against the per-row services path
(consent/batch.apply_batch through imports/pipeline.run): hypothesis generates a portal
state and an import file, both paths run from that same state, and they must end with the
same subscriptions, stops, history (outcomes, reasons, order), outbox rows and rejected
rows. This is what keeps the SQL of imports/setbased_sql.py equal to consent/rules.

With one writer the set-based history is in file order, as the per-row path's; with
several (PORTAL_IMPORT_WRITERS, each its own share of the numbers) each number's history
is, and that is what is compared: the writers interleave numbers, never one number's rows."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscriptions.consent import services
from subscriptions.consent.context import Context
from subscriptions.imports import pipeline, setbased
from subscriptions.models import (
    ImportJob,
    ProviderSync,
    ShortCodeStop,
    Subscription,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory, ProviderAccountFactory, ShortCodeFactory
from tests.subscriptions.imports.helpers import dangling_keys

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

NUMBERS = ["+12025550101", "+12025550102", "+12025550103", "+12025550104"]
# The same numbers as files write them, and rows the parser must reject.
SPELLINGS = {
    "+12025550101": ["+12025550101", "12025550101", "(202) 555-0101"],
    "+12025550102": ["+12025550102", "202-555-0102"],
    "+12025550103": ["+12025550103"],
    "+12025550104": ["+1 202 555 0104"],
}
DAYS = [datetime(2024, 1, d, 12, tzinfo=UTC) for d in (1, 5, 10, 15, 20)]
CODES = ["11111", "22222"]  # 22222: STOP blocks imports
WORDS = {"11111": ["JOIN", "NEWS", "OTHER"], "22222": ["DEALS", "VIP"]}
DOUBLE_OPT_IN = {"NEWS", "VIP"}


def _world():
    main = ProviderAccountFactory(name="main")
    other = ProviderAccountFactory(name="other")
    codes = {
        "11111": ShortCodeFactory(code="11111", provider=main),
        "22222": ShortCodeFactory(code="22222", provider=main, stop_blocks_imports=True),
    }
    keywords = {}
    for code, words in WORDS.items():
        for word in words:
            keywords[(code, word)] = KeywordFactory(
                short_code=codes[code],
                word=word,
                double_opt_in=word in DOUBLE_OPT_IN,
                provider=other if word == "OTHER" else None,
            )
    return codes, keywords


portal_step = st.tuples(
    st.sampled_from(["opt_in_web", "opt_out_api", "stop_all", "opt_in_postback"]),
    st.sampled_from(NUMBERS),
    st.sampled_from([(c, w) for c in CODES for w in WORDS[c]]),
    st.sampled_from(DAYS),
)


@st.composite
def file_row(draw):
    if draw(st.integers(0, 19)) == 0:  # a bad row of some kind
        return draw(
            st.sampled_from(
                [
                    "not-a-number,11111,JOIN,Active,,",
                    "+12025550101,99999,JOIN,Active,,",
                    "+12025550101,11111,NOPE,Active,,",
                    "+12025550101,11111,JOIN,Maybe,,",
                    "+12025550101,11111,JOIN,Active,yesterday,",
                    ",11111,JOIN,Active,,",
                ]
            )
        )
    number = draw(st.sampled_from(NUMBERS))
    spelling = draw(st.sampled_from(SPELLINGS[number]))
    code = draw(st.sampled_from(CODES))
    word = draw(st.sampled_from(WORDS[code]))
    status = draw(st.sampled_from(["Active", "Subscribe", "Unsubscribe", "unsubscribe"]))
    day = draw(st.sampled_from([None, *DAYS, DAYS[2] + timedelta(minutes=1)]))
    when = day.isoformat().replace("+00:00", "Z") if day else ""
    text = draw(
        st.sampled_from(
            ["", "Text JOIN to join", 'quoted "consent", with comma', "tab\there, C:\\path\nnext"]
        )
    )
    quoted = '"' + text.replace('"', '""') + '"' if text else ""
    return f'"{spelling}",{code},{word.lower() if day else word},{status},{when},{quoted}'


def _apply_portal_state(steps, codes, keywords):
    for action, number, (code, word), day in steps:
        keyword = keywords[(code, word)]
        if action == "opt_in_web":
            services.opt_in(number, keyword, Context(source="web", occurred_at=day))
        elif action == "opt_in_postback":
            services.opt_in(number, keyword, Context(source="postback", occurred_at=day))
        elif action == "opt_out_api":
            services.opt_out(number, keyword, Context(source="api", occurred_at=day))
        else:
            services.stop_all(number, codes[code], Context(source="mo", occurred_at=day))


def _when(value, since):
    """A time an import gave a row without occurred_at (its own start) reads as "now"."""
    return "now" if value is not None and value >= since else value


def _snapshot(job, since):
    subs = sorted(
        (
            s.contact.phone,
            s.keyword.word,
            s.status,
            _when(s.last_occurred_at, since),
            s.last_source,
            s.pending_since is None,
            s.opted_out_by_stop_id is None,
        )
        for s in Subscription.objects.select_related("contact", "keyword")
    )
    stops = sorted(
        (s.contact.phone, s.short_code.code, s.latest_at, s.cleared_at is None)
        for s in ShortCodeStop.objects.select_related("contact", "short_code")
    )
    events = SubscriptionEvent.objects.filter(detail__import_job=job.pk).order_by("pk")
    history = [
        (
            e.contact.phone,
            e.short_code.code,
            e.keyword.word,
            e.subscription.keyword.word if e.subscription else None,
            e.action,
            e.old_status,
            e.new_status,
            e.outcome,
            e.reason,
            _when(e.occurred_at, since),
            e.consent_text,
            e.actor_label,
            e.detail["line"],
            e.detail["file"],
        )
        for e in events.select_related("contact", "short_code", "keyword", "subscription__keyword")
    ]
    outbox = [
        (s.contact.phone, s.short_code.code, s.provider.name, s.event.detail["line"], s.status)
        for s in ProviderSync.objects.filter(event__in=events)
        .select_related("contact", "short_code", "provider", "event")
        .order_by("pk")
    ]
    job.refresh_from_db()
    errors = list(job.row_errors.order_by("line").values_list("line", "phone", "message"))
    counters = (job.status, job.total, job.processed, job.applied, job.refused, job.unchanged)
    return {
        "subscriptions": subs,
        "stops": stops,
        "history": history,
        "outbox": outbox,
        "errors": errors,
        "counters": counters,
    }


def _import(runner, data, dry_run):
    since = timezone.now()
    job = ImportJob.objects.create(file_name="members.csv", dry_run=dry_run)
    runner(job, lambda: io.BytesIO(data))
    assert dangling_keys() == {}
    return _snapshot(job, since)


def _both(steps, rows, dry_run=False, chunk_size=None, writers=1):
    header = "phone,short_code,keyword,status,occurred_at,consent_text\n"
    data = (header + "".join(r + "\n" for r in rows)).encode()
    results = []

    def set_based(job, opener):
        with override_settings(PORTAL_IMPORT_WRITERS=writers):
            setbased.run(job, opener, chunk_size=chunk_size)

    for runner in (pipeline.run, set_based):
        with transaction.atomic():
            codes, keywords = _world()
            _apply_portal_state(steps, codes, keywords)
            results.append(_import(runner, data, dry_run))
            transaction.set_rollback(True)
    if writers > 1:
        results = [_by_number(result) for result in results]
    return results


def _by_number(result):
    """History and outbox in each number's own order (a stable sort on the number)."""
    return {
        **result,
        "history": sorted(result["history"], key=lambda event: event[0]),
        "outbox": sorted(result["outbox"], key=lambda sync: sync[0]),
    }


COMMON = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@COMMON
@given(
    steps=st.lists(portal_step, max_size=8),
    rows=st.lists(file_row(), min_size=1, max_size=25),
    writers=st.sampled_from([1, 2, 3]),
)
def test_set_based_and_per_row_imports_end_in_the_same_state(steps, rows, writers):
    per_row, set_based = _both(steps, rows, writers=writers)
    assert set_based == per_row


@COMMON
@given(
    steps=st.lists(portal_step, max_size=8),
    rows=st.lists(file_row(), min_size=1, max_size=25),
    writers=st.sampled_from([1, 2]),
)
def test_set_based_dry_run_predicts_what_the_per_row_dry_run_does(steps, rows, writers):
    per_row, set_based = _both(steps, rows, dry_run=True, writers=writers)
    assert set_based == per_row


@settings(COMMON, max_examples=30)
@given(
    steps=st.lists(portal_step, max_size=6),
    rows=st.lists(file_row(), min_size=1, max_size=20),
    dry_run=st.booleans(),
    writers=st.sampled_from([1, 2]),
)
def test_small_set_based_chunks_decide_as_one_per_row_chunk_does(steps, rows, dry_run, writers):
    """Chunks of three rows (per writer) carry the state of earlier ones (the outbox
    differs by design: one row per target per chunk, so everything else is compared)."""
    per_row, small = _both(steps, rows, dry_run=dry_run, chunk_size=3, writers=writers)
    del per_row["outbox"], small["outbox"]
    assert small == per_row
