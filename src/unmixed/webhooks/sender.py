"""One signed POST of one webhook, through the egress policy.

Signed per Standard Webhooks (what Recall's Svix sends): `webhook-id` (the
event's, the same on every try, for the receiver to deduplicate),
`webhook-timestamp` (this try's, which receivers check for freshness) and
`webhook-signature`, an HMAC-SHA256 of id, timestamp and body.
"""

import asyncio
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from unmixed.egress import EgressPolicy, EgressRefused

TIMEOUT_SECONDS = 15.0
"""Recall's: a receiver that needs longer should answer first and work afterwards."""


class DeliveryFailed(Exception):
    """This try did not get a 2xx; the message says why, in our words (it is stored)."""


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


async def send(
    http: httpx.AsyncClient, policy: EgressPolicy, url: str, headers: dict[str, str], body: str
) -> None:
    """POST `body` to `url`, connecting only where the policy allows at this moment;
    the whole try, lookup included, gets `TIMEOUT_SECONDS`."""
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await _post(http, policy, url, headers, body)
    except TimeoutError as error:
        raise DeliveryFailed(f"no answer within {TIMEOUT_SECONDS:g} s") from error


async def _post(
    http: httpx.AsyncClient, policy: EgressPolicy, url: str, headers: dict[str, str], body: str
) -> None:
    try:
        destination = await policy.resolve(url)
    except EgressRefused as error:
        raise DeliveryFailed(f"the egress policy refuses this endpoint: {error}") from error
    except OSError as error:
        raise DeliveryFailed(str(error)) from error
    target, headers = url, dict(headers)
    if urlsplit(url).scheme == "http":
        # Connect to the very address vetted above; https connects by name, so that
        # the certificate is checked against it.
        target = destination.pinned(url)
        headers["host"] = urlsplit(url).netloc.rpartition("@")[2]
    try:
        response = await http.post(target, content=body.encode(), headers=headers)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"connection failed: {type(error).__name__}") from error
    if not response.is_success:
        raise DeliveryFailed(f"the endpoint answered {response.status_code}")
