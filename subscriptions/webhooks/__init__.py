"""Signed outbound webhooks (issue 15; docs/api.md "Outbound webhooks", docs/webhooks.md).

Flow, the same as provider delivery: a consent change (or a revocation, or reconciliation
drift) announces itself by a signal inside its transaction; `receivers` write one
WebhookEvent and one WebhookDelivery per subscribed endpoint in that transaction (`outbox`)
and enqueue the deliveries on commit; `worker` (task on the bulk queue) sends each one,
signed per Standard Webhooks (`signing`), to an address the SSRF guard checked (`ssrf`,
`sender`), in order per (endpoint, phone number), retried with backoff and jitter, then
marked failed; `sweep` re-drives what a lost enqueue or a killed worker left behind.
"""
