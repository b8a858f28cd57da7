"""The `local` launcher, the default: bots are processes on the API's machine.

They are forked from a warm process that has imported what they need
(`warm.BotForker`), and watched through their pidfd, so a bot whose process
ends before it finished is ended in `fatal`/`bot_process_lost` at once, not
only when its lease runs out. They are the API's children: stopping the API
asks them to leave (a restart that must keep meetings going needs the `celery`
launcher, whose bots live on workers).
"""

import asyncio
import signal

import structlog

from unmixed.bots.capacity import default_bot_slots
from unmixed.bots.exits import BOT_ERRORED_MESSAGE
from unmixed.bots.launchers.base import BotJob
from unmixed.bots.launchers.settle import settle_exit
from unmixed.bots.launchers.warm import BotForker
from unmixed.bots.process import BotProcess
from unmixed.settings import Settings
from unmixed.store import Bots
from unmixed.store.leases import Leases
from unmixed.wire.status import StatusCode, SubCode

STOP_GRACE_SECONDS = 15.0
"""How long bots get to leave their meetings when the API stops."""

log = structlog.get_logger(__name__)


class LocalLauncher:
    """Runs bots as processes of this machine, at most `slots` at once."""

    def __init__(self, bots: Bots, leases: Leases, settings: Settings) -> None:
        """Made in the API's loop: the warm bot process starts now."""
        self._bots = bots
        self._leases = leases
        self._forker = BotForker.for_settings(settings)
        self._slots = settings.bot_slots or default_bot_slots()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._processes: dict[str, BotProcess] = {}
        self._stopping = False

    async def capacity(self) -> int:
        return self._slots

    async def launch(self, job: BotJob) -> None:
        """Start the bot's process; what becomes of it is watched in the background."""
        task = asyncio.create_task(self.run(job.bot_id), name=f"bot-{job.bot_id}")
        self._tasks[job.bot_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.bot_id, None))

    async def run(self, bot_id: str) -> None:
        """Start the bot's process and wait until it has ended, then write what its end
        means (`settle_exit`); one that could not start ends `fatal`/`bot_errored`."""
        try:
            process = await self._forker.launch(bot_id)
        except Exception:
            log.exception("could not start the bot's process", bot=bot_id)
            await asyncio.to_thread(
                self._bots.change_status,
                bot_id,
                StatusCode.FATAL,
                SubCode.BOT_ERRORED,
                BOT_ERRORED_MESSAGE,
            )
            return
        log.info("bot process started", bot=bot_id, pid=process.pid)
        self._processes[bot_id] = process
        if self._stopping:  # the API began to stop while this bot was being started
            process.send_signal(signal.SIGTERM)
        try:
            exit_code = await process.wait()
        finally:
            del self._processes[bot_id]
        log.info("bot process exited", bot=bot_id, exit_code=exit_code)
        await asyncio.to_thread(
            settle_exit,
            self._bots,
            self._leases,
            bot_id,
            process.pid,
            exit_code,
            stopping=self._stopping,
        )

    async def close(self) -> None:
        """Ask every bot to leave its meeting and wait for them (killing stragglers),
        then end the warm bot process."""
        self._stopping = True
        for process in self._processes.values():
            process.send_signal(signal.SIGTERM)
        if self._tasks:
            _, late = await asyncio.wait(self._tasks.values(), timeout=STOP_GRACE_SECONDS)
            for process in self._processes.values():
                process.kill()
            if late:
                await asyncio.wait(late)
        await self._forker.close()
