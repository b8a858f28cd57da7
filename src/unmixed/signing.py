"""Standard Webhooks signatures, as Recall signs every request it makes to a user.

One account secret (`whsec_...`) signs status webhooks, realtime webhook POSTs
and websocket upgrades alike: `webhook-id`, `webhook-timestamp` and
`webhook-signature`, made by the `standardwebhooks` package, never by hand.
Kept apart from the webhooks outbox so a bot process loads only this.
"""

import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def signed_headers(secret: str, webhook_id: str, body: str, at: datetime) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        "content-type": "application/json",
    }


def upgrade_headers(secret: str) -> dict[str, str]:
    """For a websocket upgrade, as Recall signs them: the same headers, over an empty body."""
    headers = signed_headers(secret, f"msg_{secrets.token_urlsafe(18)}", "", datetime.now(UTC))
    del headers["content-type"]
    return headers
