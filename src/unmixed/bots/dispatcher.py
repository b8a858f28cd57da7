"""Starts each bot in a process of its own and notices when one dies.

This is the local dispatcher, the default. Its bots are forked from a warm
process that has imported what they need (`unmixed.bots.launchers.warm`); each is
still `python -m unmixed.bots.runner BOT_ID`, which a distributed dispatcher (an
existing task engine) would start elsewhere.
"""

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from unmixed.bots.capacity import default_bot_slots
from unmixed.bots.exits import ALREADY_CLAIMED_EXIT_CODE, BOT_ERRORED_MESSAGE
from unmixed.bots.launchers.warm import BotLauncher
from unmixed.bots.process import BotProcess
from unmixed.settings import Settings
from unmixed.store import Bots
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

STOP_GRACE_SECONDS = 15.0

PROCESS_LOST_MESSAGE = "the bot's process ended before the bot finished"

log = structlog.get_logger(__name__)

T = TypeVar("T")


class NoFreeSlot(Exception):
    """Every bot slot of this machine is taken."""


class NotScheduled(Exception):
    """The bot is not waiting for its `join_at` here: it has been dispatched."""


@dataclass(frozen=True)
class _Withdrawn:
    """A bot taken off its timer. If it held a slot, that slot is now a reservation."""

    bot_id: str
    deadline: float
    held_slot: bool


class LocalDispatcher:
    """Runs bots as processes of their own, at most `slots` at once."""

    def __init__(self, bots: Bots, settings: Settings) -> None:
        """Made in the API's loop: the warm bot process starts now."""
        self._bots = bots
        self._launcher = BotLauncher(
            {
                **{name: value for name, value in os.environ.items() if name != "UNMIXED_API_KEY"},
                **settings.bot_environment(),
            }
        )
        self.slots = settings.bot_slots or default_bot_slots()
        self._reserved = 0
        self._processes: dict[str, BotProcess] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._scheduled: dict[str, float] = {}
        """Bots waiting for their `join_at`, with when it comes (loop time)."""
        self._slotless: set[str] = set()
        """Those of them that hold no slot (scheduled well ahead)."""
        self._asked_to_leave: set[str] = set()
        """Bots dispatched and asked to leave, their process started or not yet."""

    def reserve(self) -> None:
        """Hold a slot for a bot about to be stored: `NoFreeSlot` if none is free.
        `dispatch(..., reserved=True)` takes it over; `unreserve` gives it back.

        Bots scheduled well ahead take no slot until they start, and then start
        whatever the load: they were accepted when they were made.
        """
        holding = len(self._tasks) - len(self._slotless)
        if holding + self._reserved >= self.slots:
            raise NoFreeSlot
        self._reserved += 1

    def unreserve(self) -> None:
        self._reserved -= 1

    def dispatch(self, bot_id: str, *, delay: float = 0.0, reserved: bool = False) -> None:
        """Start the bot's process now, or after `delay` seconds (its `join_at`)."""
        if reserved:
            self.unreserve()
        if delay:
            self._scheduled[bot_id] = asyncio.get_running_loop().time() + delay
            if not reserved:
                self._slotless.add(bot_id)
        task = asyncio.create_task(self._run(bot_id, delay), name=f"bot-{bot_id}")
        self._tasks[bot_id] = task
        task.add_done_callback(lambda done: self._forget(bot_id, done))

    def _forget(self, bot_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(bot_id) is task:
            del self._tasks[bot_id]
            self._scheduled.pop(bot_id, None)
            self._slotless.discard(bot_id)

    async def reschedule(
        self, bot_id: str, write: Callable[[], Awaitable[T]], *, delay: float, ad_hoc: bool
    ) -> T:
        """Move a bot waiting for its `join_at` to `delay` seconds from now, `write`ing
        its change while it is off its timer, so it never starts half changed.

        `NotScheduled` if it has been dispatched. An `ad_hoc` time (due soon) keeps
        the slot the bot held or takes a free one (`NoFreeSlot` if none is); a time
        well ahead gives the slot up. If anything fails, the old timer stands.
        """
        withdrawn = self._withdraw(bot_id)
        takes_slot = ad_hoc and not withdrawn.held_slot
        try:
            if takes_slot:
                self.reserve()
            try:
                result = await write()
            except BaseException:
                if takes_slot:
                    self.unreserve()
                raise
        except BaseException:
            self._restore(withdrawn)
            raise
        if withdrawn.held_slot and not ad_hoc:
            self.unreserve()
        self.dispatch(bot_id, delay=delay, reserved=ad_hoc)
        return result

    async def call_off(self, bot_id: str, write: Callable[[], Awaitable[None]]) -> None:
        """Stop a bot waiting for its `join_at` for good, `write`ing why once it can no
        longer start; `NotScheduled` if it has been dispatched. If `write` fails,
        the bot stays scheduled."""
        withdrawn = self._withdraw(bot_id)
        try:
            await write()
        except BaseException:
            self._restore(withdrawn)
            raise
        if withdrawn.held_slot:
            self.unreserve()

    def _withdraw(self, bot_id: str) -> _Withdrawn:
        """Take a bot off its timer before it fires (synchronously: nothing can start
        it meanwhile), turning the slot it held, if any, into a reservation."""
        deadline = self._scheduled.pop(bot_id, None)
        if deadline is None:
            raise NotScheduled(bot_id)
        held_slot = bot_id not in self._slotless
        self._slotless.discard(bot_id)
        self._tasks.pop(bot_id).cancel()
        if held_slot:
            self._reserved += 1
        return _Withdrawn(bot_id, deadline, held_slot)

    def _restore(self, withdrawn: _Withdrawn) -> None:
        delay = max(0.0, withdrawn.deadline - asyncio.get_running_loop().time())
        self.dispatch(withdrawn.bot_id, delay=delay, reserved=withdrawn.held_slot)

    async def request_leave(self, bot_id: str) -> None:
        """Ask a bot to leave its call (it records `bot_received_leave_call`); a bot still
        waiting for its `join_at` is called off instead, and ends the same way."""
        try:
            await self.call_off(bot_id, lambda: self._record_leave(bot_id))
        except NotScheduled:
            self._signal_leave(bot_id)

    async def _record_leave(self, bot_id: str) -> None:
        for code, sub_code in (
            (StatusCode.CALL_ENDED, SubCode.BOT_RECEIVED_LEAVE_CALL),
            (StatusCode.DONE, None),
        ):
            await asyncio.to_thread(self._bots.change_status, bot_id, code, sub_code)

    def _signal_leave(self, bot_id: str) -> None:
        """SIGTERM the bot's process, or, while it is being started (the warm process
        may still be starting too), once it has started (see `_watch`)."""
        if bot_id not in self._tasks:
            return
        self._asked_to_leave.add(bot_id)
        process = self._processes.get(bot_id)
        if process is not None:
            process.send_signal(signal.SIGTERM)

    async def _run(self, bot_id: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
            self._scheduled.pop(bot_id, None)
            self._slotless.discard(bot_id)
        try:
            await self._run_process(bot_id)
        except Exception:
            log.exception("could not run the bot", bot=bot_id)
            await asyncio.to_thread(
                self._bots.change_status,
                bot_id,
                StatusCode.FATAL,
                SubCode.BOT_ERRORED,
                BOT_ERRORED_MESSAGE,
            )

    async def _run_process(self, bot_id: str) -> None:
        try:
            exit_code = await self._watch(bot_id)
            asked_to_leave = bot_id in self._asked_to_leave
        finally:
            self._asked_to_leave.discard(bot_id)
        log.info("bot process exited", bot=bot_id, exit_code=exit_code)
        bot = await asyncio.to_thread(self._bots.get, bot_id)
        if exit_code == ALREADY_CLAIMED_EXIT_CODE or bot is None:
            return
        if bot.status_changes[-1].code in FINAL_CODES:
            return
        if asked_to_leave and exit_code == -signal.SIGTERM:
            await self._record_leave(bot_id)  # stopped before it could handle the signal itself
        else:
            await asyncio.to_thread(
                self._bots.change_status,
                bot_id,
                StatusCode.FATAL,
                SubCode.BOT_PROCESS_LOST,
                PROCESS_LOST_MESSAGE,
            )

    async def _watch(self, bot_id: str) -> int | None:
        """Start the bot's process and wait for it to end: its exit code."""
        process = await self._launcher.launch(bot_id)
        self._processes[bot_id] = process
        log.info("bot process started", bot=bot_id, pid=process.pid)
        if bot_id in self._asked_to_leave:  # while it was being started
            process.send_signal(signal.SIGTERM)
        try:
            return await process.wait()
        finally:
            self._processes.pop(bot_id, None)

    def dispatch_waiting(self) -> None:
        """Dispatch every bot still `ready`: scheduled ones, and any a stopped API left behind."""
        now = datetime.now(UTC)
        for bot_id, join_at in self._bots.ready():
            delay = 0.0 if join_at is None else (join_at - now).total_seconds()
            self.dispatch(bot_id, delay=max(0.0, delay))

    async def shutdown(self) -> None:
        """Ask every bot to leave its meeting, and wait for them (killing stragglers);
        then end the warm bot process.

        Bots still waiting for their `join_at` stay `ready`; the next start of the
        API dispatches them again (see `dispatch_waiting`).
        """
        for bot_id, task in list(self._tasks.items()):
            if bot_id in self._scheduled:
                task.cancel()
            else:
                self._signal_leave(bot_id)
        if self._tasks:
            _, late = await asyncio.wait(self._tasks.values(), timeout=STOP_GRACE_SECONDS)
            for process in self._processes.values():
                process.kill()
            if late:
                await asyncio.wait(late)
        await self._launcher.close()
