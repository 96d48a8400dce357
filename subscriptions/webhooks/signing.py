"""Standard Webhooks signatures (https://www.standardwebhooks.com), made by the
`standardwebhooks` library itself so that its verifier and ours agree byte for byte."""

import json
from datetime import UTC, datetime

from standardwebhooks import Webhook


def body(payload: dict) -> str:
    """The exact text that is signed and sent (the same on every attempt)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def headers(msg_id: str, secrets: list[str], data: str, now: datetime) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature; one `v1,` signature per secret
    (two while a rotated secret's grace period runs), space separated as the spec says."""
    now = now.astimezone(UTC)
    signatures = [Webhook(secret).sign(msg_id, now, data) for secret in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
