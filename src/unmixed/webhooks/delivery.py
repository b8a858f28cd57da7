"""The API's background task that empties the webhook outbox.

Every API process runs one. It wakes at once when this process stores a status
(an in-process signal from the store) and looks every second for rows that bot
processes, or other API processes, stored. Each claimed row is sent by a task
of its own, so one slow endpoint holds up only its own bot's later events (the
outbox hands out a bot's next event for an endpoint only when the one before
is settled). A row stays in the table until it is delivered or its retry window
is over, so nothing is lost when a process dies: after its lease runs out, any
API process, this one restarted included, takes it up again.
"""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from unmixed.egress import EgressPolicy
from unmixed.service import Service
from unmixed.signing import signed_headers
from unmixed.store import Database
from unmixed.store.outbox import ClaimedEvent, Outbox, on_enqueued
from unmixed.webhooks.schedule import next_attempt
from unmixed.webhooks.sender import TIMEOUT_SECONDS, DeliveryFailed, send

log = structlog.get_logger(__name__)

POLL_SECONDS = 1.0
MAX_IN_FLIGHT = 16
"""Tries at once. A lookup that hangs holds one of the egress policy's own lookup
threads, never one the API's database calls need."""


class WebhookDelivery(Service):
    def __init__(self, database: Database, policy: EgressPolicy, retry_window: timedelta) -> None:
        self._outbox = Outbox(database)
        self._policy = policy
        self._retry_window = retry_window
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._stop_listening = lambda: None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop_listening = on_enqueued(lambda: loop.call_soon_threadsafe(self._wake.set))
        # No proxy from the environment: it would connect past the egress policy.
        self._http = httpx.AsyncClient(
            timeout=TIMEOUT_SECONDS, trust_env=False, follow_redirects=False
        )
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def stop(self) -> None:
        """Stop sending; rows being sent now are taken up again when their lease ends."""
        self._stop_listening()
        tasks = [task for task in (self._task, *self._in_flight) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            room = MAX_IN_FLIGHT - len(self._in_flight)
            if room > 0:
                for event in await self._claim(room):
                    task = asyncio.create_task(self._deliver(event), name="webhook")
                    self._in_flight.add(task)
                    task.add_done_callback(self._settled)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()

    async def _claim(self, limit: int) -> list[ClaimedEvent]:
        """Due rows, or none while the database is unreachable: the next poll tries again."""
        try:
            return await asyncio.to_thread(self._outbox.claim, limit)
        except Exception:
            log.exception("could not read the webhook outbox")
            return []

    def _settled(self, task: asyncio.Task[None]) -> None:
        """A settled row may make its bot's next event due: look again now. A row whose
        outcome could not be stored is tried again when its lease ends."""
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a webhook's outcome could not be stored", exc_info=task.exception())
        self._wake.set()

    async def _deliver(self, event: ClaimedEvent) -> None:
        assert self._http is not None
        now = datetime.now(UTC)
        headers = signed_headers(event.secret, event.webhook_id, event.body, now)
        try:
            await send(self._http, self._policy, event.url, headers, event.body)
        except DeliveryFailed as error:
            retry_at = next_attempt(event.created_at, event.attempts, now, self._retry_window)
            log.info(
                "webhook not delivered",
                webhook_id=event.webhook_id,
                attempts=event.attempts,
                error=str(error),
                retry_at=retry_at.isoformat() if retry_at else None,
            )
            if retry_at is None:
                await asyncio.to_thread(self._outbox.failed, event, str(error))
            else:
                await asyncio.to_thread(self._outbox.retry, event, retry_at, str(error))
        else:
            await asyncio.to_thread(self._outbox.delivered, event)
