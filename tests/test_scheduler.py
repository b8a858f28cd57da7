"""The scheduler: due bots go to a launcher once across replicas, a `join_at` is
honoured less the lead time, the schedule outlives the process that made it, and
bots whose lease ran out are ended. Recording launchers stand in for where bots
would run: what is tested here is what reaches them, and when."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest

from tests.stored import new_bot
from unmixed.bots.launchers import BotJob
from unmixed.bots.reaper import Reaper
from unmixed.bots.scheduler import Scheduler
from unmixed.store import Bots, Database, open_database
from unmixed.store.leases import Leases
from unmixed.wire.status import StatusCode, SubCode

LEAD = timedelta(seconds=1.5)


class Launches:
    """Every bot handed to any of the recording launchers, with when (wall clock)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self._changed = asyncio.Event()

    def add(self, bot_id: str) -> None:
        self.times.setdefault(bot_id, []).append(time.time())
        self._changed.set()

    async def wait_until(self, check: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                self._changed.clear()
                await self._changed.wait()


class RecordingLauncher:
    def __init__(self, launches: Launches) -> None:
        self._launches = launches

    async def launch(self, job: BotJob) -> None:
        self._launches.add(job.bot_id)

    async def capacity(self) -> int | None:
        return None

    async def close(self) -> None:
        pass


def scheduler(store_url: str, launches: Launches, stack: AsyncExitStack) -> Scheduler:
    """A scheduler with an engine of its own, as another API process would have, whose
    reaper trusts the store from its first sweep (`test_reaper.py` tests the wait)."""
    database = open_database(store_url)
    stack.callback(database.engine.dispose)
    leases = Leases(database)
    reaper = Reaper(leases, trust_after=timedelta(0))
    return Scheduler(Bots(database), leases, RecordingLauncher(launches), LEAD, reaper=reaper)


@pytest.fixture
async def two_replicas(store_url: str) -> AsyncIterator[Launches]:
    launches = Launches()
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(scheduler(store_url, launches, stack))
        yield launches


async def test_replicas_launch_each_due_bot_once(two_replicas: Launches, bots: Bots) -> None:
    bot_ids = [new_bot(bots) for _ in range(20)]
    await two_replicas.wait_until(lambda: set(two_replicas.times) >= set(bot_ids), timeout=10)
    assert all(len(two_replicas.times[bot_id]) == 1 for bot_id in bot_ids)


async def test_a_scheduled_bot_is_launched_the_lead_time_before_its_join_at(
    two_replicas: Launches, bots: Bots
) -> None:
    join_in = 3.0
    bot_id = new_bot(bots, join_in=join_in)
    created = time.time()
    await two_replicas.wait_until(lambda: bot_id in two_replicas.times, timeout=10)
    (launched,) = two_replicas.times[bot_id]
    join_at = created + join_in
    assert launched >= join_at - LEAD.total_seconds() - 0.1, "launched before its lead time"
    assert launched < join_at, "launched after its join_at"


async def test_the_schedule_outlives_the_scheduler_that_was_running(
    store_url: str, bots: Bots
) -> None:
    launches = Launches()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(scheduler(store_url, launches, stack))
        bot_id = new_bot(bots, join_in=2.5)
    assert launches.times == {}, "stopped before the bot was due"
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(scheduler(store_url, launches, stack))
        await launches.wait_until(lambda: bot_id in launches.times, timeout=10)
    assert len(launches.times[bot_id]) == 1


async def test_a_bot_whose_lease_ran_out_ends_fatal_once(
    two_replicas: Launches, bots: Bots, database: Database
) -> None:
    bot_id = new_bot(bots)
    await two_replicas.wait_until(lambda: bot_id in two_replicas.times, timeout=10)
    assert Leases(database).claim(bot_id, "vanished", timedelta(seconds=1))
    async with asyncio.timeout(15):  # the store is all there is to watch: it is polled
        while True:
            bot = bots.get(bot_id)
            assert bot is not None
            if bot.status_changes[-1].code == StatusCode.FATAL:
                break
            await asyncio.sleep(0.1)
    assert [(c.code, c.sub_code) for c in bot.status_changes] == [
        (StatusCode.READY, None),
        (StatusCode.JOINING_CALL, None),
        (StatusCode.FATAL, SubCode.BOT_PROCESS_LOST),
    ]
