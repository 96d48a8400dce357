"""The statements of the set-based import (imports/setbased.py), PostgreSQL only.

One chunk of the file is COPYed into `import_stage`; every row is then decided in one
recursive statement that walks each (contact, short code) in file order, carrying the
state the rows before it left: the number's STOP on the code and every program's
(status, last occurred_at). The decision of one row is `DECIDE` below, the seed 001 rules
of `consent.rules` (decide_opt_in / decide_opt_out for source import and opt_in_floor)
written as SQL; tests/subscriptions/imports/test_setbased_differential.py keeps the two
equal by running both paths on generated files and portal states.

Temporary tables live as long as the connection; the per-chunk ones empty themselves at
commit. The dry-run overlay (`import_dry_*`) keeps what earlier chunks of a dry run would
have written, so that later chunks decide as the real run would.
"""

from subscriptions.consent import rules
from subscriptions.models import Outcome, Status


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


SETUP = [
    """CREATE TEMP TABLE IF NOT EXISTS import_stage (
        line integer NOT NULL, phone text NOT NULL, keyword_id bigint NOT NULL,
        short_code_id bigint NOT NULL, subscribe boolean NOT NULL,
        occurred_at timestamptz NOT NULL, consent_text text NOT NULL
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_seq (
        grp integer NOT NULL, rn integer NOT NULL, line integer NOT NULL,
        contact_id bigint NOT NULL, keyword_id bigint NOT NULL, short_code_id bigint NOT NULL,
        subscribe boolean NOT NULL, occurred_at timestamptz NOT NULL, consent_text text NOT NULL
    ) ON COMMIT DELETE ROWS""",
    "CREATE INDEX IF NOT EXISTS import_seq_walk ON import_seq (grp, rn)",
    """CREATE TEMP TABLE IF NOT EXISTS import_decided (
        line integer NOT NULL, contact_id bigint NOT NULL, keyword_id bigint NOT NULL,
        short_code_id bigint NOT NULL, subscribe boolean NOT NULL,
        occurred_at timestamptz NOT NULL, consent_text text NOT NULL,
        old_status text NOT NULL, outcome text NOT NULL, reason text NOT NULL,
        new_status text NOT NULL, confirms boolean NOT NULL, status_after text,
        last_after timestamptz, stop_id bigint, clears boolean NOT NULL
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_ids (id bigint NOT NULL, phone text NOT NULL)
       ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_dry_contacts (
        phone text PRIMARY KEY, id bigint NOT NULL)""",
    """CREATE TEMP TABLE IF NOT EXISTS import_dry_subs (
        contact_id bigint, keyword_id bigint, status text, last timestamptz,
        PRIMARY KEY (contact_id, keyword_id))""",
    """CREATE TEMP TABLE IF NOT EXISTS import_dry_lifted (
        contact_id bigint, short_code_id bigint, PRIMARY KEY (contact_id, short_code_id))""",
    "CREATE TEMP SEQUENCE IF NOT EXISTS import_dry_ids",
]
RESET_DRY = ["TRUNCATE import_dry_contacts, import_dry_subs, import_dry_lifted"]
# Commit empties these; a chunk inside an outer transaction (tests) must not see the last.
CLEAR = ["TRUNCATE import_stage, import_seq, import_decided, import_ids"]

COPY_STAGE = (
    "COPY import_stage (line, phone, keyword_id, short_code_id, subscribe, occurred_at, "
    "consent_text) FROM STDIN"
)

# New numbers become contacts; every contact of the chunk is then locked in id order, as
# the services lock a contact before they change its consent (no deadlock between them).
CONTACTS = [
    """INSERT INTO subscriptions_contact (phone, locale, created_at)
       SELECT DISTINCT phone, '', %(now)s FROM import_stage
       ON CONFLICT (phone) DO NOTHING""",
    """WITH locked AS (SELECT c.id, c.phone FROM subscriptions_contact c
                        WHERE c.phone IN (SELECT phone FROM import_stage)
                        ORDER BY c.id FOR UPDATE OF c)
       INSERT INTO import_ids SELECT id, phone FROM locked""",
]
# A dry run creates nothing: numbers the portal does not know get negative ids of its own.
DRY_CONTACTS = [
    """INSERT INTO import_dry_contacts (phone, id)
       SELECT phone, -nextval('import_dry_ids') FROM (SELECT DISTINCT phone FROM import_stage) s
       WHERE NOT EXISTS (SELECT 1 FROM subscriptions_contact c WHERE c.phone = s.phone)
       ON CONFLICT (phone) DO NOTHING""",
    """INSERT INTO import_ids
       SELECT c.id, c.phone FROM subscriptions_contact c
       WHERE c.phone IN (SELECT phone FROM import_stage)
       UNION ALL SELECT d.id, d.phone FROM import_dry_contacts d
       WHERE d.phone IN (SELECT phone FROM import_stage)""",
]

# Rows of one (contact, short code) numbered in file order: the walk's steps.
SEQUENCE = [
    """INSERT INTO import_seq
       SELECT dense_rank() OVER (ORDER BY i.id, s.short_code_id),
              row_number() OVER (PARTITION BY i.id, s.short_code_id ORDER BY s.line),
              s.line, i.id, s.keyword_id, s.short_code_id, s.subscribe, s.occurred_at,
              s.consent_text
       FROM import_stage s JOIN import_ids i ON i.phone = s.phone""",
    "ANALYZE import_seq",
]

# The state before the chunk, per (contact, short code): the active STOP and every
# program's [status, last_occurred_at]; a dry run lays its own predictions over it.
_INIT = """
SELECT g.grp, st.id AS stop_id, st.latest_at AS stop_latest, sc.stop_blocks_imports AS blocks,
       COALESCE((SELECT jsonb_object_agg(sub.keyword_id::text,
                                         jsonb_build_array(sub.status, sub.last_occurred_at))
                 FROM subscriptions_subscription sub
                 WHERE sub.contact_id = g.contact_id AND sub.short_code_id = g.short_code_id),
                '{{}}'::jsonb) {overlay} AS subs
FROM (SELECT grp, contact_id, short_code_id FROM import_seq WHERE rn = 1) g
JOIN subscriptions_shortcode sc ON sc.id = g.short_code_id
LEFT JOIN subscriptions_shortcodestop st
  ON st.contact_id = g.contact_id AND st.short_code_id = g.short_code_id
 AND st.cleared_at IS NULL {stop_filter}
"""
_OVERLAY = """|| COALESCE((SELECT jsonb_object_agg(d.keyword_id::text,
                                               jsonb_build_array(d.status, d.last))
                          FROM import_dry_subs d JOIN subscriptions_keyword k
                            ON k.id = d.keyword_id
                          WHERE d.contact_id = g.contact_id
                            AND k.short_code_id = g.short_code_id), '{}'::jsonb)"""
_LIFTED = """AND NOT EXISTS (SELECT 1 FROM import_dry_lifted l
                 WHERE l.contact_id = g.contact_id AND l.short_code_id = g.short_code_id)"""

# One row's decision from the state before it (w: stop_id, stop_latest, blocks, subs) and
# the row (q). Mirrors rules.decide_opt_in / decide_opt_out with source=import.
_STALE_IF = "f.floor IS NOT NULL AND q.occurred_at < f.floor"
DECIDE = f"""
CROSS JOIN LATERAL (
    SELECT w.subs -> q.keyword_id::text ->> 0 AS cur,
           (w.subs -> q.keyword_id::text ->> 1)::timestamptz AS cur_last
) c
CROSS JOIN LATERAL (
    SELECT CASE WHEN q.subscribe AND w.stop_id IS NOT NULL
                THEN GREATEST(c.cur_last, w.stop_latest) ELSE c.cur_last END AS floor
) f
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN {_STALE_IF} THEN {_literal(Outcome.STALE)}
        WHEN q.subscribe THEN CASE
            WHEN c.cur = {_literal(Status.OPTED_IN)} THEN {_literal(Outcome.NO_CHANGE)}
            WHEN c.cur IS NULL THEN CASE WHEN w.stop_id IS NOT NULL AND w.blocks
                THEN {_literal(Outcome.REFUSED)} ELSE {_literal(Outcome.APPLIED)} END
            WHEN c.cur = {_literal(Status.OPTED_OUT)} THEN {_literal(Outcome.REFUSED)}
            ELSE {_literal(Outcome.NO_CHANGE)} END
        WHEN c.cur = {_literal(Status.OPTED_OUT)} THEN {_literal(Outcome.NO_CHANGE)}
        ELSE {_literal(Outcome.APPLIED)} END AS outcome,
    CASE
        WHEN {_STALE_IF} THEN {_literal(rules.STALE)}
        WHEN q.subscribe THEN CASE
            WHEN c.cur = {_literal(Status.OPTED_IN)} THEN {_literal(rules.ALREADY_IN)}
            WHEN c.cur IS NULL THEN CASE WHEN w.stop_id IS NOT NULL AND w.blocks
                THEN {_literal(rules.IMPORT_STOPPED)} ELSE '' END
            WHEN c.cur = {_literal(Status.OPTED_OUT)} THEN {_literal(rules.IMPORT_OPTED_OUT)}
            ELSE {_literal(rules.IMPORT_CANNOT_CONFIRM)} END
        WHEN c.cur = {_literal(Status.OPTED_OUT)} THEN {_literal(rules.ALREADY_OUT)}
        ELSE '' END AS reason
) o
CROSS JOIN LATERAL (
    SELECT o.outcome = {_literal(Outcome.APPLIED)} AS applied,
           o.outcome = {_literal(Outcome.NO_CHANGE)} AND c.cur = CASE WHEN q.subscribe
               THEN {_literal(Status.OPTED_IN)} ELSE {_literal(Status.OPTED_OUT)} END
               AS confirms,
           CASE WHEN q.subscribe THEN {_literal(Status.OPTED_IN)}
                ELSE {_literal(Status.OPTED_OUT)} END AS target
) a
CROSS JOIN LATERAL (
    SELECT CASE WHEN a.applied THEN a.target ELSE c.cur END AS status_after,
           CASE WHEN a.applied THEN q.occurred_at
                WHEN a.confirms THEN GREATEST(c.cur_last, q.occurred_at)
                ELSE c.cur_last END AS last_after,
           a.applied AND q.subscribe AND w.stop_id IS NOT NULL AS clears
) n
"""

_STEP_COLUMNS = """q.grp, q.rn, q.line, q.contact_id, q.keyword_id, q.short_code_id, q.subscribe,
    q.occurred_at, q.consent_text, COALESCE(c.cur, '') AS old_status, o.outcome, o.reason,
    CASE WHEN a.applied THEN a.target ELSE '' END AS new_status, a.confirms, n.status_after,
    n.last_after, w.stop_id AS stop_id_before, n.clears,
    CASE WHEN n.clears THEN NULL ELSE w.stop_id END AS stop_id,
    w.stop_latest, w.blocks,
    CASE WHEN a.applied OR a.confirms
         THEN w.subs || jsonb_build_object(q.keyword_id::text,
                                           jsonb_build_array(n.status_after, n.last_after))
         ELSE w.subs END AS subs"""

_WALK = f"""
WITH RECURSIVE init AS MATERIALIZED ({{init}}),
walk AS (
    SELECT {_STEP_COLUMNS}
    FROM import_seq q JOIN init w ON w.grp = q.grp {DECIDE}
    WHERE q.rn = 1
  UNION ALL
    SELECT {_STEP_COLUMNS}
    FROM walk w JOIN import_seq q ON q.grp = w.grp AND q.rn = w.rn + 1 {DECIDE}
)
INSERT INTO import_decided
SELECT line, contact_id, keyword_id, short_code_id, subscribe, occurred_at, consent_text,
       old_status, outcome, reason, new_status, confirms, status_after, last_after,
       stop_id_before, clears
FROM walk
"""


def walk(dry_run: bool) -> str:
    init = _INIT.format(overlay=_OVERLAY if dry_run else "", stop_filter=_LIFTED if dry_run else "")
    return _WALK.format(init=init)


# The walk steps one row per (contact, code) at a time: an index probe per step keeps a
# file that repeats one number thousands of times linear (a hash join would rescan).
WALK_PLAN = ["SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"]
WALK_PLAN_RESET = ["RESET enable_hashjoin", "RESET enable_mergejoin"]

# The state each (contact, program) is left in by the chunk: its last row's.
_FINAL = """
SELECT DISTINCT ON (contact_id, keyword_id) contact_id, keyword_id, short_code_id,
       status_after, last_after,
       bool_or(outcome = 'applied') OVER (PARTITION BY contact_id, keyword_id) AS applied,
       bool_or(confirms) OVER (PARTITION BY contact_id, keyword_id) AS confirmed
FROM import_decided ORDER BY contact_id, keyword_id, line DESC
"""

WRITE_STATE = [
    f"""WITH fin AS ({_FINAL})
    INSERT INTO subscriptions_subscription AS s (contact_id, keyword_id, short_code_id,
        status, created_at, changed_at, last_occurred_at, last_source, pending_since,
        opted_out_by_stop_id)
    SELECT contact_id, keyword_id, short_code_id, status_after, %(now)s, %(now)s,
           last_after, 'import', NULL, NULL
    FROM fin WHERE applied ORDER BY contact_id, keyword_id
    ON CONFLICT (contact_id, keyword_id) DO UPDATE SET status = EXCLUDED.status,
        changed_at = EXCLUDED.changed_at, last_occurred_at = EXCLUDED.last_occurred_at,
        last_source = EXCLUDED.last_source, pending_since = NULL, opted_out_by_stop_id = NULL""",
    f"""WITH fin AS ({_FINAL})
    UPDATE subscriptions_subscription s SET last_occurred_at = fin.last_after
    FROM fin WHERE NOT fin.applied AND fin.confirmed AND s.contact_id = fin.contact_id
      AND s.keyword_id = fin.keyword_id AND fin.last_after > s.last_occurred_at""",
    """UPDATE subscriptions_shortcodestop SET cleared_at = %(now)s
    WHERE id IN (SELECT stop_id FROM import_decided WHERE clears)""",
]

DRY_STATE = [
    f"""WITH fin AS ({_FINAL})
    INSERT INTO import_dry_subs (contact_id, keyword_id, status, last)
    SELECT contact_id, keyword_id, status_after, last_after FROM fin
    WHERE applied OR confirmed
    ON CONFLICT (contact_id, keyword_id) DO UPDATE SET status = EXCLUDED.status,
        last = EXCLUDED.last""",
    """INSERT INTO import_dry_lifted (contact_id, short_code_id)
    SELECT DISTINCT contact_id, short_code_id FROM import_decided WHERE clears
    ON CONFLICT DO NOTHING""",
]

COUNT_DRY = "SELECT outcome, count(*) FROM import_decided GROUP BY outcome"

# History (in file order), then one outbox row per (contact, code, account) the applied
# events touch (pointing at the last of them, in the order plan.plan writes them), then
# (with the database task backend) one delivery task per outbox row on the bulk queue.
_EVENTS = """
ev AS (
    INSERT INTO subscriptions_subscriptionevent (contact_id, short_code_id, keyword_id,
        subscription_id, action, old_status, new_status, outcome, reason, source, actor_id,
        actor_label, occurred_at, recorded_at, consent_text, ip_address, user_agent,
        external_id, raw_payload, detail)
    SELECT d.contact_id, d.short_code_id, d.keyword_id,
           CASE WHEN d.status_after IS NOT NULL THEN s.id END,
           CASE WHEN d.subscribe THEN 'opt_in' ELSE 'opt_out' END, d.old_status,
           d.new_status, d.outcome, d.reason, 'import', %(actor)s, %(label)s, d.occurred_at,
           %(now)s, d.consent_text, NULL, '', '', '',
           jsonb_build_object('import_job', %(job)s, 'file', %(file)s, 'line', d.line)
    FROM import_decided d LEFT JOIN subscriptions_subscription s
      ON s.contact_id = d.contact_id AND s.keyword_id = d.keyword_id
    ORDER BY d.line
    RETURNING id, contact_id, short_code_id, keyword_id, outcome
),
targets AS (
    SELECT ev.contact_id, ev.short_code_id, COALESCE(k.provider_id, sc.provider_id) AS account,
           max(ev.id) AS event_id, min(ev.id) AS first_id
    FROM ev JOIN subscriptions_keyword k ON k.id = ev.keyword_id
    JOIN subscriptions_shortcode sc ON sc.id = ev.short_code_id
    WHERE ev.outcome = 'applied'
    GROUP BY ev.contact_id, ev.short_code_id, COALESCE(k.provider_id, sc.provider_id)
),
syncs AS (
    INSERT INTO subscriptions_providersync (contact_id, short_code_id, provider_id, event_id,
        operation, status, attempts, next_attempt_at, locked_until, last_error, detail,
        state, state_version, created_at, updated_at)
    SELECT contact_id, short_code_id, account, event_id, 'reconcile', 'pending', 0, %(now)s,
           NULL, '', '', NULL, NULL, %(now)s, %(now)s
    FROM targets ORDER BY first_id
    RETURNING id
)"""

_TASKS = """,
tasks AS (
    INSERT INTO django_tasks_database_dbtaskresult (id, status, enqueued_at, started_at,
        finished_at, args_kwargs, priority, task_path, worker_ids, queue_name, backend_name,
        run_after, return_value, exception_class_path, traceback)
    SELECT gen_random_uuid(), 'READY', %(now)s, NULL, NULL,
           jsonb_build_object('args', jsonb_build_array(id),
                              'kwargs', jsonb_build_object('request_id', %(request_id)s)),
           %(priority)s, %(task_path)s, '[]'::jsonb, %(queue)s, %(backend)s, %(run_after)s,
           NULL, '', ''
    FROM syncs
    RETURNING 1
)"""

_SUMMARY = """
SELECT (SELECT min(id) FROM ev), (SELECT max(id) FROM ev),
       (SELECT jsonb_object_agg(outcome, n) FROM
            (SELECT outcome, count(*) AS n FROM ev GROUP BY outcome) o),
       {sync_ids}"""


def write_history(with_tasks: bool) -> str:
    """The statement that writes a chunk's history, outbox and tasks; it answers with the
    id range of the events, their count per outcome and (without tasks) the outbox ids."""
    sync_ids = "NULL::bigint[]" if with_tasks else "(SELECT array_agg(id) FROM syncs)"
    return (
        "WITH "
        + _EVENTS.strip()
        + (_TASKS if with_tasks else "")
        + _SUMMARY.format(sync_ids=sync_ids)
    )
