"""Admin page timings at scale on PostgreSQL, through gunicorn on loopback.

    .venv/bin/python bench/admin_bench.py [SCALE] [--reuse] [--quick]

SCALE 1.0 (the default) = 1,000,000 contacts, 2,000,000 subscriptions, 10,000,000 history
rows, generated with INSERT ... SELECT generate_series (minutes, not hours). The database
portal_bench_admin is dropped and recreated. Prints, for each page, the median and worst of
REPEAT requests and the ratio to the admin index page (a page that reads no consent data)
measured in the same run; then the dashboard again, warm and cold, each sample right after
an admin index request, with the ratio to those (the steadier figure on a shared machine).
BENCH_DB names the database. --reuse skips the load and times the pages on the data left by
a previous run (migrated to this code first).
"""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

import psycopg
import requests
from common import GUNICORN, ROOT, bench_env, database_url, fresh_database, manage, timed

DB = os.environ.get("BENCH_DB", "portal_bench_admin")
REPEAT = 1 if "--quick" in sys.argv else 7  # --quick: one request a page (the smoke test)
COLD_REPEAT = 1 if "--quick" in sys.argv else 7
CODES, PROGRAMS_PER_CODE = 10, 5

SETUP = f"""
from django.contrib.auth import get_user_model
from subscriptions.models import Keyword, ProviderAccount, ShortCode
account = ProviderAccount.objects.create(name="bench")
for c in range({CODES}):
    sc = ShortCode.objects.create(code=str(30000 + c), name=f"Code {{c}}", brand="Bench",
                                  provider=account)
    for p in range({PROGRAMS_PER_CODE}):
        Keyword.objects.create(short_code=sc, word=f"PROG{{p}}")
get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-1")
"""

# Two subscriptions per contact (programs i % 50 and (i + 7) % 50), statuses 80/15/5 in /
# out / pending; five history rows per subscription over the last year, plus one code-wide
# STOP row per 100 subscriptions; provider syncs for one subscription in twenty.
LOAD_SQL = [
    """CREATE TEMP TABLE kw AS SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id,
       short_code_id FROM subscriptions_keyword""",
    """INSERT INTO subscriptions_contact (phone, locale, created_at)
       SELECT '+1202' || lpad(g::text, 7, '0'), '', now() - (g %% 365) * interval '1 day'
       FROM generate_series(1, %(contacts)s) g""",
    """INSERT INTO subscriptions_subscription (contact_id, keyword_id, short_code_id, status,
         created_at, changed_at, last_occurred_at, last_source, pending_since)
       SELECT c.id, kw.id, kw.short_code_id, s.status, t.at, t.at, t.at, 'import',
              CASE WHEN s.status = 'pending' THEN t.at END
       FROM subscriptions_contact c
       CROSS JOIN (VALUES (0), (7)) AS o(shift)
       JOIN kw ON kw.idx = (c.id + o.shift) %% 50
       CROSS JOIN LATERAL (SELECT CASE WHEN (c.id + o.shift) %% 20 < 16 THEN 'opted_in'
                                       WHEN (c.id + o.shift) %% 20 < 19 THEN 'opted_out'
                                       ELSE 'pending' END AS status) s
       CROSS JOIN LATERAL (SELECT now() - ((c.id * 7 + o.shift) %% 365) * interval '1 day'
                           AS at) t""",
    """INSERT INTO subscriptions_subscriptionevent (contact_id, short_code_id, keyword_id,
         subscription_id, action, old_status, new_status, outcome, reason, source, actor_id,
         actor_label, occurred_at, recorded_at, consent_text, ip_address, user_agent,
         external_id, raw_payload, detail)
       SELECT s.contact_id, s.short_code_id, s.keyword_id, s.id,
              CASE WHEN n %% 2 = 1 THEN 'opt_in' ELSE 'opt_out' END,
              CASE WHEN n = 1 THEN '' WHEN n %% 2 = 1 THEN 'opted_out' ELSE 'opted_in' END,
              CASE WHEN n %% 2 = 1 THEN 'opted_in' ELSE 'opted_out' END,
              'applied', '', (ARRAY['web','api','mo','import','postback'])[1 + (s.id + n) %% 5],
              NULL, '', at.t, at.t, 'Text PROG to join. Msg&data rates may apply.',
              CASE WHEN (s.id + n) %% 5 = 0 THEN '198.51.100.7'::inet END,
              CASE WHEN (s.id + n) %% 5 = 0 THEN 'Mozilla/5.0' ELSE '' END, '', '', '{}'
       FROM subscriptions_subscription s
       CROSS JOIN generate_series(1, 5) n
       CROSS JOIN LATERAL (SELECT now() - ((s.id * 5 + n) %% 365) * interval '1 day'
                                 - (n * 13 %% 24) * interval '1 hour' AS t) at""",
    """INSERT INTO subscriptions_subscriptionevent (contact_id, short_code_id, keyword_id,
         subscription_id, action, old_status, new_status, outcome, reason, source, actor_id,
         actor_label, occurred_at, recorded_at, consent_text, ip_address, user_agent,
         external_id, raw_payload, detail)
       SELECT s.contact_id, s.short_code_id, NULL, NULL, 'stop_all', '', '', 'applied', '',
              'mo', NULL, '', s.changed_at, s.changed_at, '', NULL, '', '', 'STOP', '{}'
       FROM subscriptions_subscription s WHERE s.id %% 100 = 0""",
    """INSERT INTO subscriptions_providersync (contact_id, short_code_id, provider_id, operation,
         status, attempts, next_attempt_at, last_error, detail, created_at, updated_at)
       SELECT s.contact_id, s.short_code_id, (SELECT min(id) FROM subscriptions_provideraccount),
              'reconcile', (ARRAY['succeeded','succeeded','succeeded','pending','failed',
                                  'local_only'])[1 + s.id %% 6], 1, s.changed_at, '', '',
              s.changed_at, s.changed_at
       FROM subscriptions_subscription s WHERE s.id %% 20 = 0""",
    "ANALYZE",
]


def load(scale):
    contacts = int(1_000_000 * scale)
    results = {}
    with psycopg.connect(database_url(DB), autocommit=True) as conn:
        # The generated rows reference each other correctly by construction; skipping the
        # per-row foreign key triggers (tens of millions of lookups) makes the load minutes
        # shorter. Indexes are still maintained, so the pages see a normal database.
        conn.execute("SET session_replication_role = replica")
        for n, sql in enumerate(LOAD_SQL):
            label = sql.split("(")[0].split()[:3]
            with timed(f"load step {n} {' '.join(label)}", results):
                conn.execute(sql, {"contacts": contacts})
    return table_counts(), sum(results.values())


def table_counts():
    with psycopg.connect(database_url(DB)) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM subscriptions_{table}").fetchone()[0]
            for table in ("contact", "subscription", "subscriptionevent", "providersync")
        }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port):
    env = {**bench_env(DB), "ALLOWED_HOSTS": "127.0.0.1"}
    process = subprocess.Popen(
        [
            GUNICORN,
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    stop_gunicorn(process)
    raise RuntimeError("gunicorn did not start")


def stop_gunicorn(process):
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def login(base):
    session = requests.Session()
    page = session.get(f"{base}/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": "bench", "password": "bench-password-1"},
        headers={"Referer": f"{base}/admin/login/"},
    )
    if not answer.url.endswith("/admin/"):
        raise RuntimeError("login failed")
    return session


def _timed_get(session, url):
    started = time.perf_counter()
    response = session.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return time.perf_counter() - started


def time_page(session, url, repeat=REPEAT, before_each=None):
    samples = []
    for _ in range(repeat):
        if before_each:
            before_each()
        samples.append(_timed_get(session, url))
    return statistics.median(samples), max(samples)


def time_beside(session, url, baseline_url, repeat=REPEAT, before_each=None):
    """(median, worst, median of the baseline) with each sample of `url` taken right after
    one of `baseline_url`: on a shared machine the load moves between the start of a run and
    its dashboard phases, and a ratio to a baseline taken minutes earlier moves with it."""
    samples, baseline = [], []
    for _ in range(repeat):
        baseline.append(_timed_get(session, baseline_url))
        if before_each:
            before_each()
        samples.append(_timed_get(session, url))
    return statistics.median(samples), max(samples), statistics.median(baseline)


# The page's own cache entries only (every range and version of the key,
# subscriptions.admin.dashboard.CACHE_KEY): the schedule's snapshot of the counts stays, as
# it would. (The pattern once named a key version the page no longer used, so "cold" views
# were served from the page cache.)
PAGE_CACHE_DELETE = "DELETE FROM portal_cache WHERE cache_key LIKE '%%admin-dashboard-%%'"


def clear_dashboard_cache():
    with psycopg.connect(database_url(DB), autocommit=True) as conn:
        conn.execute(PAGE_CACHE_DELETE)


def forget_closed_days(days):
    """Drop the roll-up of the latest `days` closed days (all: None) and the page cache, so
    the next view sums them from the history again."""
    latest = "SELECT day FROM subscriptions_activityday ORDER BY day DESC"
    if days is not None:
        latest += f" LIMIT {int(days)}"

    def before_each():
        with psycopg.connect(database_url(DB), autocommit=True) as conn:
            conn.execute(f"DELETE FROM subscriptions_dailyactivity WHERE day_id IN ({latest})")
            conn.execute(f"DELETE FROM subscriptions_activityday WHERE day IN ({latest})")
            conn.execute(PAGE_CACHE_DELETE)

    return before_each


def main():
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    scale = float(numbers[0]) if numbers else 1.0
    if "--reuse" in sys.argv:  # time the pages again on the data a previous run loaded
        manage(DB, "migrate", "--verbosity", "0")  # with this code's indexes
        counts, load_seconds = table_counts(), 0
    else:
        fresh_database(DB)
        manage(DB, "shell", "-c", SETUP)
        print(f"loading scale {scale} ...", file=sys.stderr)
        counts, load_seconds = load(scale)
    with psycopg.connect(database_url(DB)) as conn:
        contact_id, phone = conn.execute(
            "SELECT id, phone FROM subscriptions_contact ORDER BY id OFFSET %s LIMIT 1",
            [counts["contact"] // 2],
        ).fetchone()
        code_id = conn.execute("SELECT min(id) FROM subscriptions_shortcode").fetchone()[0]
    national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    # The dashboard's closed days are rolled up by the schedule, never by a page view.
    rollup = {}
    with timed("close_activity_days (the schedule's roll-up)", rollup):
        manage(DB, "close_activity_days")
    port = free_port()
    server = start_gunicorn(port)
    base = f"http://127.0.0.1:{port}"
    try:
        session = login(base)
        sub = "/admin/subscriptions/subscription/"
        contact = f"/admin/subscriptions/contact/{contact_id}"
        pages = {
            "admin index (baseline)": "/admin/",
            "subscriptions changelist": "/admin/subscriptions/subscription/",
            "subscriptions filtered (opted_out, one code)": f"{sub}?status__exact=opted_out"
            f"&short_code__id__exact={code_id}",
            "subscriptions phone search (national format)": sub
            + "?q="
            + requests.utils.quote(national),
            "contacts changelist": "/admin/subscriptions/contact/",
            "contact phone search (digits)": f"/admin/subscriptions/contact/?q={phone.lstrip('+')}",
            "contact page (subscriptions + timeline)": f"{contact}/change/",
            "history changelist": "/admin/subscriptions/subscriptionevent/",
            "history phone search": f"/admin/subscriptions/subscriptionevent/?q={phone}",
            "consent evidence CSV": f"/admin/subscriptions/contact/{contact_id}/evidence.csv",
            "dashboard (warm cache)": "/admin/dashboard/",
        }
        for url in pages.values():  # warm connections and Python imports in both workers
            session.get(base + url)
        results = {label: time_page(session, base + url) for label, url in pages.items()}
        results["dashboard (cold: cache cleared)"] = time_page(
            session,
            base + "/admin/dashboard/",
            repeat=COLD_REPEAT,
            before_each=clear_dashboard_cache,
        )
        beside = {
            "dashboard (warm cache)": time_beside(
                session, base + "/admin/dashboard/", base + "/admin/", repeat=COLD_REPEAT
            ),
            "dashboard (cold: cache cleared)": time_beside(
                session,
                base + "/admin/dashboard/",
                base + "/admin/",
                repeat=COLD_REPEAT,
                before_each=clear_dashboard_cache,
            ),
        }
        # The schedule late: the page counts the days not rolled up from the history (and
        # writes nothing).
        results["dashboard (cold, schedule 1 day late)"] = time_page(
            session,
            base + "/admin/dashboard/",
            repeat=COLD_REPEAT,
            before_each=forget_closed_days(1),
        )
        results["dashboard (cold, schedule never ran: 29 days)"] = time_page(
            session,
            base + "/admin/dashboard/",
            repeat=COLD_REPEAT,
            before_each=forget_closed_days(None),
        )
    finally:
        stop_gunicorn(server)
        manage(DB, "close_activity_days")  # as the schedule would, for a later --reuse
    print(
        f"data: {counts['contact']:,} contacts, {counts['subscription']:,} subscriptions, "
        f"{counts['subscriptionevent']:,} history rows, {counts['providersync']:,} provider "
        f"syncs (loaded in {load_seconds:.0f} s)"
    )
    print(f"roll-up of the closed days by close_activity_days: {sum(rollup.values()):.1f} s")
    baseline = results["admin index (baseline)"][0]
    print(f"{'page':48} {'median':>9} {'worst':>9} {'x index':>8}")
    for label, (median, worst) in results.items():
        print(f"{label:48} {median * 1000:7.0f}ms {worst * 1000:7.0f}ms {median / baseline:7.1f}x")
    print(f"each sample right after an admin index request ({COLD_REPEAT} pairs):")
    print(f"{'page':48} {'median':>9} {'worst':>9} {'index':>9} {'x index':>8}")
    for label, (median, worst, index) in beside.items():
        print(
            f"{label:48} {median * 1000:7.0f}ms {worst * 1000:7.0f}ms {index * 1000:7.0f}ms "
            f"{median / index:7.1f}x"
        )


if __name__ == "__main__":
    main()
