"""Starts each bot in a process of its own and notices when one dies.

This is the local dispatcher, the default. A distributed one (an existing task
engine) would start the very same `unmixed.bots.runner` elsewhere.
"""

import asyncio
import os
import signal
import sys

import structlog

from unmixed.store import Bots
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

STOP_GRACE_SECONDS = 15.0

log = structlog.get_logger(__name__)


class LocalDispatcher:
    def __init__(self, bots: Bots, database_url: str) -> None:
        self._bots = bots
        self._database_url = database_url
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def dispatch(self, bot_id: str, *, delay: float = 0.0) -> None:
        """Start the bot's process now, or after `delay` seconds (its `join_at`)."""
        task = asyncio.create_task(self._run(bot_id, delay), name=f"bot-{bot_id}")
        self._tasks[bot_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(bot_id, None))

    def request_leave(self, bot_id: str) -> None:
        """Ask a running bot to leave its call; it records `bot_received_leave_call`."""
        process = self._processes.get(bot_id)
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)

    async def _run(self, bot_id: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "unmixed.bots.runner",
            bot_id,
            env={**os.environ, "UNMIXED_DATABASE_URL": self._database_url},
        )
        self._processes[bot_id] = process
        log.info("bot process started", bot=bot_id, pid=process.pid)
        exit_code = await process.wait()
        self._processes.pop(bot_id, None)
        log.info("bot process exited", bot=bot_id, exit_code=exit_code)
        bot = await asyncio.to_thread(self._bots.get, bot_id)
        if bot is not None and bot.status_changes[-1].code not in FINAL_CODES:
            await asyncio.to_thread(
                self._bots.change_status,
                bot_id,
                StatusCode.FATAL,
                SubCode.BOT_PROCESS_LOST,
                f"the bot process exited with code {exit_code}",
            )

    async def shutdown(self) -> None:
        """Ask every bot to leave its meeting, and wait for them (killing stragglers).

        Bots still waiting for their `join_at` stay `ready`, to be dispatched again.
        """
        for bot_id, task in list(self._tasks.items()):
            if bot_id in self._processes:
                self.request_leave(bot_id)
            else:
                task.cancel()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks.values(), timeout=STOP_GRACE_SECONDS)
            for process in self._processes.values():
                process.kill()
            if late:
                await asyncio.wait(late)
