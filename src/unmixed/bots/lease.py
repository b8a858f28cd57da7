"""A running bot's ties to the store: the lease that says it is alive, and the
commands it is sent.

The bot renews its lease every few seconds; a lease that runs out means the
bot's process (or its machine) is gone, and whoever notices first ends the bot
in `fatal`/`bot_process_lost` (`unmixed.bots.scheduler`). Commands are rows in
the store, polled every second; where Redis is configured a notice on the
bot's channel wakes it at once (`unmixed.commands`). No signal, no PID: the
bot may run on any machine.
"""

import asyncio
import socket
from collections.abc import Callable
from datetime import timedelta

import structlog
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from unmixed.commands import command_notices
from unmixed.service import Service
from unmixed.store.leases import Leases, Renewal

LEASE = timedelta(seconds=15)
"""How long a bot stays alive in the store without renewing: three renewals can be
missed (a slow database, a pause) before it is taken for lost."""
RENEW_SECONDS = 5.0
POLL_SECONDS = 1.0
"""How often the store is asked for commands: a `leave_call` reaches a bot within
about this long without Redis."""

log = structlog.get_logger(__name__)


def process_holder(pid: int) -> str:
    """How a bot process is named as its bot's lease holder: its host and pid, which
    the launcher that watches the process knows too."""
    return f"{socket.gethostname()}:{pid}"


class BotLease(Service):
    """Keeps a claimed bot's lease and tells it when it is asked to leave."""

    def __init__(
        self,
        leases: Leases,
        bot_id: str,
        *,
        on_leave: Callable[[], None],
        reconnects: Callable[[], int],
        redis_url: str | None = None,
    ) -> None:
        """`on_leave` is called (once) when a leave is asked for, or when the lease
        has been taken from the bot: the store already holds its end then."""
        self._leases = leases
        self._bot_id = bot_id
        self._on_leave = on_leave
        self._reconnects = reconnects
        self._redis_url = redis_url
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep(), name="lease")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _keep(self) -> None:
        """Renew every `RENEW_SECONDS` (every second after a renewal failed, so that a
        store back from an outage sees the bot alive at once), and read the commands
        every second; with Redis, whose notice wakes the bot, only at renewals."""
        loop = asyncio.get_running_loop()
        async with command_notices(self._redis_url, self._bot_id) as subscription:
            if await self._asked_to_leave():  # before it subscribed: no notice will come
                return
            notices = subscription
            renew_at = loop.time() + RENEW_SECONDS
            while True:
                if loop.time() >= renew_at:
                    renewal = await self._renew()
                    renew_at = loop.time() + (POLL_SECONDS if renewal is None else RENEW_SECONDS)
                    if renewal is not None and self._ends(renewal):
                        return
                elif notices is None and await self._asked_to_leave():
                    return
                woken = await _notice_or_timeout(notices, min(POLL_SECONDS, renew_at - loop.time()))
                if notices is not None and woken and await self._asked_to_leave():
                    return
                notices = notices if woken is not None else None

    async def _renew(self) -> Renewal | None:
        """The renewal, or None if the store could not be reached."""
        try:
            return await asyncio.to_thread(
                self._leases.renew, self._bot_id, LEASE, self._reconnects()
            )
        except SQLAlchemyError as error:
            log.warning("could not renew the bot's lease; retrying", error=str(error))
            return None

    def _ends(self, renewal: Renewal) -> bool:
        if not renewal.held:
            log.error("the bot's lease was taken: it was taken for lost; leaving")
        if renewal.leave_requested or not renewal.held:
            self._on_leave()
            return True
        return False

    async def _asked_to_leave(self) -> bool:
        try:
            asked = await asyncio.to_thread(self._leases.leave_requested, self._bot_id)
        except SQLAlchemyError as error:
            log.warning("could not read the bot's commands; retrying", error=str(error))
            return False
        if asked:
            log.info("asked to leave through the store")
            self._on_leave()
        return asked


async def _notice_or_timeout(notices: PubSub | None, seconds: float) -> bool | None:
    """Wait `seconds`, or less if a notice arrives on the bot's channel: whether one
    did; None once the channel has failed (polling goes on without it)."""
    seconds = max(0.0, seconds)
    if notices is not None:
        try:
            return await notices.get_message(timeout=seconds) is not None
        except RedisError as error:
            log.warning("lost the command channel; polling the store only", error=str(error))
    await asyncio.sleep(seconds)
    return None
