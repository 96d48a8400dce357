"""Revocation by any reasonable means (FCC 24-24; docs/revocations.md).

- `services.apply_text` / `open_review`: a handset text the classifier read as a clear
  revocation (applied at once, as the code's STOP) or as a doubtful one (a record opened,
  the number paused on the code, staff decide). Called by `inbound.mo`.
- `services.record_revocation`: any other channel (phone call, email, letter, in person,
  chat; the preferences page's, the API's and the admin's code-wide opt-outs): applied at
  once to its scope through the consent services, so every provider account on each code
  hears of it through the outbox.
- `programs.revoke_programs` / `apply_custom_stop`: a revocation of some programs only (a
  program turned off, an opt-out of one program, a custom stop keyword).
- `services.decide`: staff's decision on one under review (revoke, or not a revocation),
  a second append-only row; the pause and the decision are history events.
- `scope`: the codes a revocation applies to (PORTAL_REVOKE_ALL_SCOPE).
- `confirmations`: who sends the one confirmation text of a revocation.
- `measure`: when every provider delivery a revocation caused is acknowledged
  (RevocationInStep, on the worker's `sync_settled`).
- `selectors`: the queue (open and overdue first), status, dashboard numbers.
Signals `consent.signals.revocation_received` / `revocation_decided` are sent inside the
transaction that wrote the record; `revocation_in_step` when it is in step.
"""
