"""Reconciliation with the providers (issue "Provider truth"; docs/api.md "Reconciliation
with providers"): find what a provider holds that the portal does not, and fix what may be
fixed without ever opting anybody in.

A run (`Reconciliation`, started by `POST providers/{id}/reconcile/`, `manage.py
reconcile_providers` or the nightly timer) covers one provider account, or one of its short
codes, and goes through the numbers the portal knows there in batches of 500 (contacts in id
order). Each batch is read, compared and recorded in one transaction with a
`ReconciliationBatch` row, so a run whose worker died resumes after its finished batches
(the sweeper queues it again once its lease ran out) without reading them again.

- SFMC (a read API): `POST /sms/v1/contacts/subscriptions` per batch, several batches in
  flight (PORTAL_RECONCILE_CONCURRENCY), one token for all of them, 429 and 5xx waited out
  (Retry-After, else backoff) up to PORTAL_RECONCILE_MAX_RETRIES. Per program: held in at
  SFMC while the portal has it out -> the opt-out is sent again (`opt_out_sent`: an outbox
  row records what SFMC was found holding and the delivery sends the STOP, grouped into
  queueMO calls of up to 250 numbers); anything else -> `reported`, shown to staff, never
  an automatic opt-in.
- WhatCounts, SkyCore (no read API): every opt-out they may hold is sent again (provider
  state recorded as unknown, then delivered), paced at PORTAL_RECONCILE_RESEND_PER_SECOND,
  and reported (`provider: unknown`, `opt_out_sent`).
- A dry run records the drift it finds and sends nothing.

Each drift row is announced with `consent.signals.drift_found` inside the transaction that
wrote it (webhooks: `reconciliation.drift`) and counted in /metrics. Runs go on the bulk
queue: they never delay a text to a person or a consent change on its way to a provider.
"""
