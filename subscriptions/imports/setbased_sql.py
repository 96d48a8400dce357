"""The statements of the set-based import (imports/setbased.py), PostgreSQL only.

One chunk of the file is COPYed into `import_stage`; every row is then decided by a
recursive statement that walks each (contact, program) in file order, carrying the state
the rows before it left: the subscription's (status, last occurred_at) and the number's
STOP on the code. A STOP is cleared by the first applied import opt-in on its code,
whatever the program, so the rows of that (contact, code) after it are walked a second
time from the state they had then, without the STOP (rare: numbers that sent STOP).
The decision of one row is `DECIDE` below: the seed 001 rules of `consent.rules`
(decide_opt_in / decide_opt_out with source import, opt_in_floor) written as SQL, with
the reasons taken from `consent.rules`; tests/subscriptions/imports/
test_setbased_differential.py keeps the two equal by running both paths on generated
files and portal states.

Temporary tables live as long as the connection; the per-chunk ones empty themselves at
commit. The dry-run overlay (`import_dry_*`) keeps what earlier chunks of a dry run would
have written, so that later chunks decide as the real run would.
"""

from subscriptions.consent import rules
from subscriptions.imports import references
from subscriptions.models import (
    ImportJob,
    Outcome,
    ProviderSync,
    Status,
    Subscription,
    SubscriptionEvent,
)


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
    """CREATE TEMP TABLE IF NOT EXISTS import_reseq (LIKE import_seq) ON COMMIT DELETE ROWS""",
    "CREATE INDEX IF NOT EXISTS import_reseq_walk ON import_reseq (grp, rn)",
    """CREATE TEMP TABLE IF NOT EXISTS import_init (
        grp integer PRIMARY KEY, contact_id bigint NOT NULL, keyword_id bigint NOT NULL,
        cur text, cur_last timestamptz, stop_id bigint, stop_latest timestamptz,
        blocks boolean NOT NULL, sub_id bigint
    ) ON COMMIT DELETE ROWS""",
    "CREATE INDEX IF NOT EXISTS import_init_pair ON import_init (contact_id, keyword_id)",
    """CREATE TEMP TABLE IF NOT EXISTS import_reinit (LIKE import_init INCLUDING INDEXES)
       ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_lifted (
        contact_id bigint, short_code_id bigint, line integer,
        PRIMARY KEY (contact_id, short_code_id)) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_decided (
        line integer NOT NULL, contact_id bigint NOT NULL, keyword_id bigint NOT NULL,
        short_code_id bigint NOT NULL, subscribe boolean NOT NULL,
        occurred_at timestamptz NOT NULL, consent_text text NOT NULL,
        old_status text NOT NULL, outcome text NOT NULL, reason text NOT NULL,
        new_status text NOT NULL, confirms boolean NOT NULL, status_after text,
        last_after timestamptz, stop_id bigint, clears boolean NOT NULL
    ) ON COMMIT DELETE ROWS""",
    "CREATE INDEX IF NOT EXISTS import_decided_pair ON import_decided (contact_id, keyword_id)",
    """CREATE TEMP TABLE IF NOT EXISTS import_ids (id bigint NOT NULL, phone text NOT NULL)
       ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_final (
        contact_id bigint NOT NULL, keyword_id bigint NOT NULL, short_code_id bigint NOT NULL,
        status_after text, last_after timestamptz, applied boolean NOT NULL,
        confirmed boolean NOT NULL
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_sub_ids (
        contact_id bigint NOT NULL, keyword_id bigint NOT NULL, id bigint NOT NULL
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_dry_contacts (
        phone text PRIMARY KEY, id bigint NOT NULL)""",
    """CREATE TEMP TABLE IF NOT EXISTS import_dry_subs (
        contact_id bigint, keyword_id bigint, status text, last timestamptz,
        PRIMARY KEY (contact_id, keyword_id))""",
    """CREATE TEMP TABLE IF NOT EXISTS import_dry_lifted (
        contact_id bigint, short_code_id bigint, PRIMARY KEY (contact_id, short_code_id))""",
    "CREATE TEMP SEQUENCE IF NOT EXISTS import_dry_ids",
    references.KEYS_TABLE,
]
RESET_DRY = ["TRUNCATE import_dry_contacts, import_dry_subs, import_dry_lifted"]
# Commit empties these; a chunk inside an outer transaction (tests) must not see the last.
# JIT off: the walk's estimates (a recursive union) are high enough to make PostgreSQL
# spend far longer compiling the statements of a chunk than running them. work_mem: the
# sorts and hashes of a chunk of tens of thousands of rows fit in memory instead of
# spilling to temporary files (the server's default is 4 MB; this transaction only).
CLEAR = [
    "TRUNCATE import_stage, import_seq, import_decided, import_ids, import_reseq, "
    "import_init, import_reinit, import_lifted, import_keys, import_sub_ids, "
    "import_final",
    "SET LOCAL jit = off",
    "SET LOCAL work_mem = '64MB'",
]

COPY_STAGE = (
    "COPY import_stage (line, phone, keyword_id, short_code_id, subscribe, occurred_at, "
    "consent_text) FROM STDIN"
)

# New numbers become contacts; the numbers the portal knew are then locked in id order, as
# the services lock a contact before they change its consent (no deadlock between them).
# A contact this transaction inserted is invisible to everyone else until it commits: it
# needs no lock.
CONTACTS = [
    """WITH new AS (
        INSERT INTO subscriptions_contact (phone, locale, created_at)
        SELECT phone, '', %(now)s FROM import_stage GROUP BY phone ORDER BY phone
        ON CONFLICT (phone) DO NOTHING RETURNING id, phone)
       INSERT INTO import_ids SELECT id, phone FROM new""",
    """WITH locked AS (SELECT c.id, c.phone FROM subscriptions_contact c
                        WHERE c.phone IN (SELECT phone FROM import_stage
                                          EXCEPT SELECT phone FROM import_ids)
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

# Rows of one (contact, program) numbered in file order: the walk's steps.
SEQUENCE = [
    """INSERT INTO import_seq
       SELECT dense_rank() OVER (ORDER BY i.id, s.keyword_id),
              row_number() OVER (PARTITION BY i.id, s.keyword_id ORDER BY s.line),
              s.line, i.id, s.keyword_id, s.short_code_id, s.subscribe, s.occurred_at,
              s.consent_text
       FROM import_stage s JOIN import_ids i ON i.phone = s.phone""",
    "ANALYZE import_seq",
]

# The state before the chunk, per (contact, program): its subscription's status and last
# occurred_at, and the number's active STOP on the code; a dry run lays its own
# predictions over it.
_INIT = """
INSERT INTO import_init
SELECT g.grp, g.contact_id, g.keyword_id, {status}, {last}, st.id, st.latest_at,
       sc.stop_blocks_imports, sub.id
FROM (SELECT grp, contact_id, keyword_id, short_code_id FROM import_seq WHERE rn = 1) g
JOIN subscriptions_shortcode sc ON sc.id = g.short_code_id
LEFT JOIN subscriptions_subscription sub
  ON sub.contact_id = g.contact_id AND sub.keyword_id = g.keyword_id
LEFT JOIN subscriptions_shortcodestop st
  ON st.contact_id = g.contact_id AND st.short_code_id = g.short_code_id
 AND st.cleared_at IS NULL {lifted}
{overlay}
"""
_REAL_STATE = {"status": "sub.status", "last": "sub.last_occurred_at", "lifted": "", "overlay": ""}
_DRY_STATE = {
    "status": "CASE WHEN d.contact_id IS NULL THEN sub.status ELSE d.status END",
    "last": "CASE WHEN d.contact_id IS NULL THEN sub.last_occurred_at ELSE d.last END",
    "lifted": """AND NOT EXISTS (SELECT 1 FROM import_dry_lifted l
                 WHERE l.contact_id = g.contact_id AND l.short_code_id = g.short_code_id)""",
    "overlay": """LEFT JOIN import_dry_subs d
  ON d.contact_id = g.contact_id AND d.keyword_id = g.keyword_id""",
}

# One row's decision from the state before it (w: cur, cur_last, stop_id, stop_latest,
# blocks) and the row (q): rules.decide_opt_in / decide_opt_out with source=import.
_STALE_IF = "f.floor IS NOT NULL AND q.occurred_at < f.floor"
_IN, _OUT = _literal(Status.OPTED_IN), _literal(Status.OPTED_OUT)
DECIDE = f"""
CROSS JOIN LATERAL (
    SELECT CASE WHEN q.subscribe AND w.stop_id IS NOT NULL
                THEN GREATEST(w.cur_last, w.stop_latest) ELSE w.cur_last END AS floor
) f
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN {_STALE_IF} THEN {_literal(Outcome.STALE)}
        WHEN q.subscribe THEN CASE
            WHEN w.cur = {_IN} THEN {_literal(Outcome.NO_CHANGE)}
            WHEN w.cur IS NULL THEN CASE WHEN w.stop_id IS NOT NULL AND w.blocks
                THEN {_literal(Outcome.REFUSED)} ELSE {_literal(Outcome.APPLIED)} END
            WHEN w.cur = {_OUT} THEN {_literal(Outcome.REFUSED)}
            ELSE {_literal(Outcome.NO_CHANGE)} END
        WHEN w.cur = {_OUT} THEN {_literal(Outcome.NO_CHANGE)}
        ELSE {_literal(Outcome.APPLIED)} END AS outcome,
    CASE
        WHEN {_STALE_IF} THEN {_literal(rules.STALE)}
        WHEN q.subscribe THEN CASE
            WHEN w.cur = {_IN} THEN {_literal(rules.ALREADY_IN)}
            WHEN w.cur IS NULL THEN CASE WHEN w.stop_id IS NOT NULL AND w.blocks
                THEN {_literal(rules.IMPORT_STOPPED)} ELSE '' END
            WHEN w.cur = {_OUT} THEN {_literal(rules.IMPORT_OPTED_OUT)}
            ELSE {_literal(rules.IMPORT_CANNOT_CONFIRM)} END
        WHEN w.cur = {_OUT} THEN {_literal(rules.ALREADY_OUT)}
        ELSE '' END AS reason
) o
CROSS JOIN LATERAL (
    SELECT o.outcome = {_literal(Outcome.APPLIED)} AS applied,
           o.outcome = {_literal(Outcome.NO_CHANGE)}
               AND w.cur = CASE WHEN q.subscribe THEN {_IN} ELSE {_OUT} END AS confirms,
           CASE WHEN q.subscribe THEN {_IN} ELSE {_OUT} END AS target
) a
CROSS JOIN LATERAL (
    SELECT CASE WHEN a.applied THEN a.target ELSE w.cur END AS status_after,
           CASE WHEN a.applied THEN q.occurred_at
                WHEN a.confirms THEN GREATEST(w.cur_last, q.occurred_at)
                ELSE w.cur_last END AS last_after,
           a.applied AND q.subscribe AND w.stop_id IS NOT NULL AS clears
) n
"""

_STEP_COLUMNS = """q.grp, q.rn, q.line, q.contact_id, q.keyword_id, q.short_code_id,
    q.subscribe, q.occurred_at, q.consent_text, COALESCE(w.cur, '') AS old_status,
    o.outcome, o.reason, CASE WHEN a.applied THEN a.target ELSE '' END AS new_status,
    a.confirms, n.status_after AS cur, n.last_after AS cur_last, w.stop_id AS stop_before,
    n.clears, CASE WHEN n.clears THEN NULL ELSE w.stop_id END AS stop_id, w.stop_latest,
    w.blocks"""

_WALK = f"""
WITH RECURSIVE walk AS (
    SELECT {_STEP_COLUMNS}
    FROM {{seq}} q JOIN {{init}} w ON w.grp = q.grp {DECIDE}
    WHERE q.rn = 1
  UNION ALL
    SELECT {_STEP_COLUMNS}
    FROM walk w JOIN {{seq}} q ON q.grp = w.grp AND q.rn = w.rn + 1 {DECIDE}
)
INSERT INTO import_decided
SELECT line, contact_id, keyword_id, short_code_id, subscribe, occurred_at, consent_text,
       old_status, outcome, reason, new_status, confirms, cur, cur_last, stop_before, clears
FROM walk
"""

# A number's STOP on a code is cleared by the first applied import opt-in there, in file
# order, whichever program it is for; the rows of that (contact, code) after it are walked
# again from the state they had then, without the STOP.
_REWALK = [
    """INSERT INTO import_lifted
       SELECT contact_id, short_code_id, min(line) FROM import_decided WHERE clears
       GROUP BY contact_id, short_code_id""",
    """DELETE FROM import_decided d USING import_lifted l
       WHERE d.contact_id = l.contact_id AND d.short_code_id = l.short_code_id
         AND d.line > l.line""",
    """INSERT INTO import_reseq
       SELECT dense_rank() OVER (ORDER BY q.contact_id, q.keyword_id),
              row_number() OVER (PARTITION BY q.contact_id, q.keyword_id ORDER BY q.line),
              q.line, q.contact_id, q.keyword_id, q.short_code_id, q.subscribe,
              q.occurred_at, q.consent_text
       FROM import_seq q JOIN import_lifted l
         ON l.contact_id = q.contact_id AND l.short_code_id = q.short_code_id
       WHERE q.line > l.line""",
    """INSERT INTO import_reinit
       SELECT r.grp, r.contact_id, r.keyword_id,
              CASE WHEN p.line IS NULL THEN i.cur ELSE p.status_after END,
              CASE WHEN p.line IS NULL THEN i.cur_last ELSE p.last_after END,
              NULL, NULL, i.blocks, i.sub_id
       FROM import_reseq r JOIN import_init i
         ON i.contact_id = r.contact_id AND i.keyword_id = r.keyword_id
       LEFT JOIN LATERAL (SELECT d.line, d.status_after, d.last_after FROM import_decided d
                          WHERE d.contact_id = r.contact_id AND d.keyword_id = r.keyword_id
                          ORDER BY d.line DESC LIMIT 1) p ON true
       WHERE r.rn = 1""",
]


def walk(dry_run: bool) -> list[str]:
    """The statements that decide every staged row into import_decided."""
    init = _INIT.format(**(_DRY_STATE if dry_run else _REAL_STATE))
    return [
        init,
        *WALK_PLAN,
        _WALK.format(seq="import_seq", init="import_init"),
        *WALK_PLAN_RESET,
        *_REWALK,
        *WALK_PLAN,
        _WALK.format(seq="import_reseq", init="import_reinit"),
        *WALK_PLAN_RESET,
    ]


# The walk steps one row per (contact, program) at a time: an index probe per step keeps a
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

# Computed once per chunk, read by the statements after it.
FINAL = f"INSERT INTO import_final {_FINAL}"

WRITE_STATE = [
    FINAL,
    f"""WITH up AS (
    INSERT INTO subscriptions_subscription AS s (contact_id, keyword_id, short_code_id,
        status, created_at, changed_at, last_occurred_at, last_source, pending_since,
        opted_out_by_stop_id)
    SELECT contact_id, keyword_id, short_code_id, status_after, %(now)s, %(now)s,
           last_after, 'import', NULL, NULL
    FROM import_final fin WHERE applied ORDER BY contact_id, keyword_id
    ON CONFLICT (contact_id, keyword_id) DO UPDATE SET status = EXCLUDED.status,
        changed_at = EXCLUDED.changed_at, last_occurred_at = EXCLUDED.last_occurred_at,
        last_source = EXCLUDED.last_source, pending_since = NULL, opted_out_by_stop_id = NULL
    RETURNING {references.returning(Subscription, "id", "contact_id", "keyword_id")}),
    ids AS (INSERT INTO import_sub_ids SELECT contact_id, keyword_id, id FROM up)
    {references.collect("up", Subscription)}""",
    """UPDATE subscriptions_subscription s SET last_occurred_at = fin.last_after
    FROM import_final fin WHERE NOT fin.applied AND fin.confirmed AND s.contact_id = fin.contact_id
      AND s.keyword_id = fin.keyword_id AND fin.last_after > s.last_occurred_at""",
    """UPDATE subscriptions_shortcodestop SET cleared_at = %(now)s
    WHERE id IN (SELECT stop_id FROM import_decided WHERE clears)""",
]

DRY_STATE = [
    FINAL,
    """INSERT INTO import_dry_subs (contact_id, keyword_id, status, last)
    SELECT contact_id, keyword_id, status_after, last_after FROM import_final
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
# (with the database task backend) one grouped delivery task per GROUP_SIZE outbox rows on
# the bulk queue (delivery/grouped.py: claimed together, calls overlapped, SFMC's STOPs
# shared by up to 250 numbers a call).
_EVENTS = f"""
ev AS (
    INSERT INTO subscriptions_subscriptionevent (contact_id, short_code_id, keyword_id,
        subscription_id, action, old_status, new_status, outcome, reason, source, actor_id,
        actor_label, occurred_at, recorded_at, consent_text, ip_address, user_agent,
        external_id, raw_payload, detail)
    SELECT d.contact_id, d.short_code_id, d.keyword_id,
           CASE WHEN d.status_after IS NOT NULL THEN COALESCE(u.id, i.sub_id) END,
           CASE WHEN d.subscribe THEN 'opt_in' ELSE 'opt_out' END, d.old_status,
           d.new_status, d.outcome, d.reason, 'import', %(actor)s, %(label)s, d.occurred_at,
           %(now)s, d.consent_text, NULL, '', '', '',
           jsonb_build_object('import_job', %(job)s::bigint, 'file', %(file)s::text,
                              'line', d.line)
    FROM import_decided d
    JOIN import_init i ON i.contact_id = d.contact_id AND i.keyword_id = d.keyword_id
    LEFT JOIN import_sub_ids u ON u.contact_id = d.contact_id AND u.keyword_id = d.keyword_id
    ORDER BY d.line
    RETURNING {
    references.returning(
        SubscriptionEvent, "id", "outcome", "contact_id", "short_code_id", "keyword_id"
    )
}
),
event_keys AS ({references.collect("ev", SubscriptionEvent)}),
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
    RETURNING {references.returning(ProviderSync, "id")}
),
sync_keys AS ({references.collect("syncs", ProviderSync)})"""

_TASKS = """,
tasks AS (
    INSERT INTO django_tasks_database_dbtaskresult (id, status, enqueued_at, started_at,
        finished_at, args_kwargs, priority, task_path, worker_ids, queue_name, backend_name,
        run_after, return_value, exception_class_path, traceback)
    SELECT gen_random_uuid(), 'READY', %(now)s, NULL, NULL,
           jsonb_build_object('args', jsonb_build_array(jsonb_agg(id ORDER BY id)),
                              'kwargs', jsonb_build_object('request_id', %(request_id)s::text)),
           %(priority)s, %(task_path)s, '[]'::jsonb, %(queue)s, %(backend)s, %(run_after)s,
           NULL, '', ''
    FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(group_size)s AS task
          FROM syncs) numbered
    GROUP BY task
    RETURNING 1
)"""

_SUMMARY = """
SELECT (SELECT array_agg(id ORDER BY id) FROM ev WHERE outcome = 'applied'),
       (SELECT jsonb_object_agg(outcome, n) FROM
            (SELECT outcome, count(*) AS n FROM ev GROUP BY outcome) o),
       {sync_ids}"""


def write_history(with_tasks: bool) -> str:
    """The statement that writes a chunk's history, outbox and tasks; it answers with the
    ids of the applied events, the count of events per outcome and (without tasks) the
    outbox ids."""
    sync_ids = "NULL::bigint[]" if with_tasks else "(SELECT array_agg(id) FROM syncs)"
    return (
        "WITH "
        + _EVENTS.strip()
        + (_TASKS if with_tasks else "")
        + _SUMMARY.format(sync_ids=sync_ids)
    )


# A writer's chunk is recorded with its rows: the writer's cursor moves from where this
# runner last left it (else another runner took the job over: nothing is answered, and
# the chunk rolls back), the job's cursor is the least of its writers', and the counts grow.
ADVANCE = f"""
UPDATE {ImportJob._meta.db_table} SET
    part_cursors = jsonb_set(part_cursors, ARRAY[%(writer)s::text], to_jsonb(%(end)s::bigint)),
    cursor = (SELECT min(CASE WHEN p.n = %(writer)s + 1 THEN %(end)s ELSE p.v::bigint END)
              FROM jsonb_array_elements_text(part_cursors) WITH ORDINALITY AS p(v, n)),
    heartbeat_at = %(now)s,
    processed = processed + %(processed)s,
    applied = applied + %(applied)s,
    refused = refused + %(refused)s,
    unchanged = unchanged + %(unchanged)s,
    errors = errors + %(errors)s
WHERE id = %(job)s AND (part_cursors ->> %(writer)s::int)::bigint = %(expected)s
RETURNING cursor"""
