"""Revocation by any reasonable means (FCC 24-24; docs/rules.md "Revocation").

- `services.apply_text` / `open_review`: a handset text the classifier read as a clear
  revocation (applied at once, as the code's STOP) or as a doubtful one (a record opened,
  the number paused on the code, staff decide). Called by `inbound.mo`.
- `services.record_revocation`: any other channel (phone call, email, letter, in person,
  chat, web, an integration): applied at once to its scope through the consent services,
  so every provider account on each code hears of it through the outbox.
- `services.decide`: staff's decision on one under review (revoke, or not a revocation),
  a second append-only row; the pause and the decision are history events.
- `confirmations`: who sends the one confirmation text of a revocation.
- `selectors`: the queue (open and overdue first), status, dashboard numbers.
Signals `consent.signals.revocation_received` / `revocation_decided` are sent inside the
transaction that wrote the record.
"""
