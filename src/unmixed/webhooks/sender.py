"""One signed POST of one webhook, through the egress policy.

Signed per Standard Webhooks (what Recall's Svix sends): `webhook-id` (the
event's, the same on every try, for the receiver to deduplicate),
`webhook-timestamp` (this try's, which receivers check for freshness) and
`webhook-signature`, an HMAC-SHA256 of id, timestamp and body.
"""

import asyncio
from urllib.parse import urlsplit

import httpx

from unmixed.egress import EgressPolicy, EgressRefused

TIMEOUT_SECONDS = 15.0
"""Recall's: a receiver that needs longer should answer first and work afterwards."""


class DeliveryFailed(Exception):
    """This try did not get a 2xx; the message says why, in our words (it is stored)."""


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
    except (OSError, ValueError) as error:  # ValueError: UnicodeError of a bad host name
        raise DeliveryFailed(f"the endpoint's host does not resolve: {error}") from error
    target, headers = url, dict(headers)
    if urlsplit(url).scheme == "http":
        # Connect to the very address vetted above; https connects by name, so that
        # the certificate is checked against it.
        target = destination.pinned(url)
        headers["host"] = urlsplit(url).netloc.rpartition("@")[2]
    try:
        response = await http.post(target, content=body.encode(), headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
        raise DeliveryFailed(f"connection failed: {type(error).__name__}") from error
    if not response.is_success:
        raise DeliveryFailed(f"the endpoint answered {response.status_code}")
