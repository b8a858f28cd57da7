"""Starting bots from the store, and noticing the ones whose process is gone.

Every API process runs a `Scheduler`; they share nothing but the store. A bot
is due when it has no `join_at`, or when its `join_at` is at most the lead time
away (a browser needs seconds to start). Each scheduler takes a due bot with
one conditional update (`Leases.mark_dispatched`), so across any number of
API replicas each bot is handed to a launcher once; and since the schedule is
the store, it survives restarts: a bot created before a restart starts after it.

The same loop ends bots whose lease ran out (`reap`), as every worker does too:
whoever notices first ends the bot, once.
"""

import asyncio
from datetime import timedelta

import structlog

from unmixed.bots.exits import BOT_ERRORED_MESSAGE
from unmixed.bots.launchers.base import BotJob, Launcher
from unmixed.service import Service
from unmixed.store import Bots
from unmixed.store.leases import Leases
from unmixed.wire.meeting_url import Platform
from unmixed.wire.status import StatusCode, SubCode

TICK_SECONDS = 1.0
"""How often the store is read for due bots, besides when this process made one."""
REAP_SECONDS = 5.0
"""How often expired leases are looked for: with a 15 s lease, a dead bot is ended
within 20 s."""

START_WITHIN = timedelta(minutes=10)
"""How long a dispatched bot may wait for a process to claim it (a worker slot to free
up, a Kubernetes node to be found) before its launch is taken for lost."""

log = structlog.get_logger(__name__)


def reap(leases: Leases) -> list[str]:
    """End every bot whose lease ran out, and every bot dispatched long ago that no
    process ever claimed; the ones this call ended."""
    expired = [bot_id for bot_id in leases.expired() if leases.declare_lost(bot_id)]
    for bot_id in expired:
        log.error("bot's lease expired: its process or machine is gone", bot=bot_id)
    unstarted = [
        bot_id
        for bot_id in leases.never_started(START_WITHIN)
        if leases.declare_never_started(bot_id, START_WITHIN)
    ]
    for bot_id in unstarted:
        log.error("bot was dispatched but never started", bot=bot_id)
    return expired + unstarted


class Scheduler(Service):
    """Hands due bots to the launcher, and reaps expired leases."""

    def __init__(self, bots: Bots, leases: Leases, launcher: Launcher, lead: timedelta) -> None:
        self._bots = bots
        self._leases = leases
        self._launcher = launcher
        self._lead = lead
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for due bots now: one was just made or changed here."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        reap_at = loop.time()
        while True:
            self._wake.clear()
            try:
                await self._dispatch_due()
                if loop.time() >= reap_at:
                    reap_at = loop.time() + REAP_SECONDS
                    await asyncio.to_thread(reap, self._leases)
            except Exception:
                log.exception("the scheduler's round failed; trying again")
            try:
                async with asyncio.timeout(TICK_SECONDS):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _dispatch_due(self) -> None:
        for bot_id, platform in await asyncio.to_thread(self._leases.due, self._lead):
            if await asyncio.to_thread(self._leases.mark_dispatched, bot_id):
                await self._launch(BotJob(bot_id, Platform(platform)))

    async def _launch(self, job: BotJob) -> None:
        try:
            await self._launcher.launch(job)
        except Exception as error:
            log.exception("could not launch the bot", bot=job.bot_id)
            await asyncio.to_thread(
                self._bots.change_status,
                job.bot_id,
                StatusCode.FATAL,
                SubCode.BOT_ERRORED,
                f"{BOT_ERRORED_MESSAGE} (could not launch it: {type(error).__name__})",
            )
