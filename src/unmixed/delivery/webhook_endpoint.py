"""A realtime endpoint of `type: "webhook"`: each event POSTed, signed, in order.

As Recall does for realtime webhooks: an event that does not get a 2xx is tried
again a second later, up to 60 tries; then the endpoint has failed and gets
nothing more from this bot. Events wait behind the one being tried, so the
receiver sees them in order. It is `Outgoing`, as a websocket connection is, so
deliveries and `drain` treat the two alike.
"""

import asyncio
import secrets
from collections import deque
from datetime import UTC, datetime

import httpx
import structlog

from unmixed.delivery.connection import EndpointHealth, Outgoing
from unmixed.signing import signed_headers
from unmixed.webhooks.sender import DeliveryFailed, send

MAX_TRIES = 60
RETRY_SECONDS = 1.0
MAX_QUEUED = 10_000
"""Events held while the endpoint is being retried; the oldest go first past this."""

log = structlog.get_logger(__name__)


class WebhookEndpointSender(Outgoing):
    def __init__(self, health: EndpointHealth, secret: str | None, *, label: str) -> None:
        self._health = health
        self._secret = secret
        self._label = label
        self._queue: deque[tuple[str, str]] = deque()
        self.dropped = 0
        super().__init__(f"webhook-{label}")

    def send(self, message: bytes) -> None:
        if self._health.failed or self._task.done():
            self.dropped += 1
            return
        self._queue.append((f"msg_{secrets.token_urlsafe(18)}", message.decode()))
        if len(self._queue) > MAX_QUEUED:
            self._queue.popleft()
            self.dropped += 1
        self._wake.set()

    async def _run(self) -> None:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as http:
            while not self._health.failed:
                if not self._queue:
                    if self._finishing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                webhook_id, body = self._queue[0]
                if not await self._deliver(http, webhook_id, body):
                    self._health.give_up(f"{MAX_TRIES} tries of one event failed")
                    self.dropped += len(self._queue)
                    self._queue.clear()
                    return
                self._queue.popleft()

    async def _deliver(self, http: httpx.AsyncClient, webhook_id: str, body: str) -> bool:
        """Try one event until it is taken, or `MAX_TRIES` times; whether it was taken."""
        for attempt in range(1, MAX_TRIES + 1):
            headers = {"content-type": "application/json"}
            if self._secret is not None:
                headers = signed_headers(self._secret, webhook_id, body, datetime.now(UTC))
            try:
                await send(http, self._health.egress, self._health.url, headers, body)
                return True
            except DeliveryFailed as error:
                if attempt in (1, 10, MAX_TRIES):
                    log.warning(
                        "realtime webhook not taken",
                        endpoint=self._label,
                        attempt=attempt,
                        why=str(error),
                    )
            await asyncio.sleep(RETRY_SECONDS)
        return False
