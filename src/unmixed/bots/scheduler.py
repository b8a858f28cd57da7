"""Starting bots from the store, and noticing the ones whose process is gone.

Every API process runs a `Scheduler`; they share nothing but the store. A bot
is due when it has no `join_at`, or when its `join_at` is at most the lead time
away (a browser needs seconds to start). Each scheduler takes a due bot with
one conditional update (`Leases.mark_dispatched`), so across any number of
API replicas no bot is handed to a launcher twice; and since the schedule is
the store, it survives restarts: a bot created before a restart starts after it.
(A process that dies between taking a bot and handing it over leaves it to the
reaper, which ends it after `reaper.START_WITHIN`.)

The same loop sweeps for bots whose process is gone (`Reaper`), as every worker
does too: whoever notices first ends the bot, once.
"""

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import structlog

from unmixed.bots.exits import BOT_ERRORED_MESSAGE
from unmixed.bots.launchers.base import BotJob, Launcher
from unmixed.bots.reaper import SWEEP_SECONDS, Reaper
from unmixed.service import Service
from unmixed.store import Bots
from unmixed.store.leases import Leases
from unmixed.wire.meeting_url import Platform
from unmixed.wire.status import StatusCode, SubCode

TICK_SECONDS = 1.0
"""How often the store is read for due bots, besides when this process made one."""
LAUNCH_ATTEMPTS = 5
"""A bot whose launch fails (its queue briefly out of reach) is tried again at the next
rounds; after this many failures it ends `fatal`/`bot_errored`."""

log = structlog.get_logger(__name__)


class Scheduler(Service):
    """Hands due bots to the launcher, and reaps expired leases."""

    def __init__(
        self,
        bots: Bots,
        leases: Leases,
        launcher: Launcher,
        lead: timedelta,
        *,
        reaper: Reaper | None = None,
    ) -> None:
        self._bots = bots
        self._leases = leases
        self._launcher = launcher
        self._lead = lead
        self._reaper = reaper or Reaper(leases)
        self._failed_launches: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for due bots now: one was just made or changed here."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        """Finish the round under way (a bot taken for launching is launched), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        sweep_at = loop.time()
        while not self._stopping:
            self._wake.clear()
            try:
                await self._dispatch_due()
                if loop.time() >= sweep_at:
                    sweep_at = loop.time() + SWEEP_SECONDS
                    await asyncio.to_thread(self._reaper.sweep)
            except Exception:
                log.exception("the scheduler's round failed; trying again")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_SECONDS):
                    await self._wake.wait()

    async def _dispatch_due(self) -> None:
        due = await asyncio.to_thread(self._leases.due, self._lead)
        for bot_id, platform, transcribes in due:
            if await asyncio.to_thread(self._leases.mark_dispatched, bot_id):
                await self._launch(BotJob(bot_id, Platform(platform), transcribes))

    async def _launch(self, job: BotJob) -> None:
        try:
            await self._launcher.launch(job)
        except Exception as error:
            self._failed_launches[job.bot_id] += 1
            attempts = self._failed_launches[job.bot_id]
            log.warning(
                "could not launch the bot", bot=job.bot_id, attempt=attempts, error=repr(error)
            )
            if attempts < LAUNCH_ATTEMPTS:
                await asyncio.to_thread(self._leases.undispatch, job.bot_id)
                return
            del self._failed_launches[job.bot_id]
            await asyncio.to_thread(
                self._bots.change_status,
                job.bot_id,
                StatusCode.FATAL,
                SubCode.BOT_ERRORED,
                f"{BOT_ERRORED_MESSAGE} (could not launch it: {type(error).__name__})",
            )
        else:
            self._failed_launches.pop(job.bot_id, None)
