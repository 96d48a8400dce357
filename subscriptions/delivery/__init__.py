"""Durable delivery of consent changes to the providers (the ProviderSync outbox).

How a change travels:
1. `plan(events)` (called by the subscription_changed receiver, inside the service's
   transaction) writes one ProviderSync row per (contact, short code, provider account) the
   events touch and enqueues `tasks.deliver_sync` for each on commit.
2. `deliver_sync(id)` (in the worker) claims the row, reads the portal's CURRENT state for
   its target, compares it with the state the provider is known to hold (the target's
   highest `state_version`; every writer of a state holds the contact's row lock) and asks
   the adapter to close the gap. While it runs, the changes it makes are recorded as
   unknown, so that a worker that dies mid-call leaves them unknown, not forgotten.
   Retries are therefore idempotent and a later change supersedes an earlier one: claiming
   a row marks the target's other pending rows superseded, and only one row per target
   is in flight at a time (the contact row lock serialises claims), so the provider sees
   changes in the order the portal made them.
   The work is set-based (claims.py, targets.py, record.py): one transaction claims one row
   or a grouped task's many (their contacts locked in id order, each target's rows read
   once), the provider calls run outside any transaction with their call log kept in
   memory, and one transaction records the outcomes, the call log and the tasks that follow
   (a retry, a row that waited; with the database queue, in that same transaction). A
   worker keeps at most PORTAL_DELIVERY_CALLS_PER_WORKER calls in flight (overlap.py): a
   grouped task overlaps that many, and `db_worker --threads N` runs N tasks at once. A
   claimed row whose call would start with less than half its lease left goes back to the
   queue uncalled.
3. Failures: retryable errors come back after exponential backoff with jitter (never
   sooner than the provider's Retry-After) until PORTAL_DELIVERY_MAX_ATTEMPTS; permanent
   errors stop at once. Both leave the row `failed` with the error, visible in the admin,
   which can retry it.
4. `sweep()` (`manage.py sweep_outbox`) re-drives what a lost enqueue or a killed worker
   left behind: pending rows that are due, and rows still `sending` after their lease
   (PORTAL_DELIVERY_LEASE_SECONDS) ran out; pending rows count as lost
   PORTAL_DELIVERY_REDRIVE_SECONDS after they were due. Schedule it next to `manage.py db_worker`:
   `manage.py sweep_outbox --every 30` as a long-running process, or
   `manage.py sweep_outbox` from cron / a systemd timer each minute. With a task backend
   that cannot defer tasks (the immediate backend of the tests), retries wait for it.

5. Unknown is not empty (state.py `decided_out`, providers/base.py `Reconciliation`): a
   program the provider was never told about (no state delivered or learned from it) may be
   held there all the same, so an opt-out the portal decided (an opt-out, an active STOP) is
   sent unless the account is known to hold the number out; opt-ins behave as before. Such
   opt-outs from a bulk source (an import) must not text the person: they go by a quiet
   path where the provider has one, else stay local_only for the provider's own import
   (provider_import.py, admin: Provider syncs).
6. Queues (common/queueing.py): deliveries on QUEUE_SYNCS, texts to people (messages.py) on
   QUEUE_PEOPLE with their own workers, so no sync backlog delays a one-time code or a STOP
   reply; the sweeper re-drives each onto its own queue. The rows of a bulk source go as
   grouped tasks (grouped.py): their calls overlap, and their code-wide STOPs share SFMC
   queueMO calls.

Outbound texts (messages.py) use the same retry policy and the same sweeper.
"""
