"""The `celery` launcher: bots run on workers (`unmixed worker --slots N`) on any
number of machines, handed over through Redis by Celery.

A worker runs one bot per slot. It fetches a bot only when it has a free slot
(`worker_disable_prefetch`, a prefetch of one), and the message is acknowledged
as its task starts, just before the bot's process is forked: a redelivery can
never start a second bot for the same meeting (and if one did, the bot's claim in
the store, a conditional update, would let only one of them run). A message lost
with a worker that died holding it leaves its bot unclaimed; the reaper ends such a
bot after `START_WITHIN`.

Each worker announces its slots in Redis under a key that expires unless the
worker renews it, so the API knows the fleet's capacity without asking anyone,
and a dead worker's slots vanish with it. Its bots' leases run out too, and
whoever notices first (an API, another worker) ends them in `fatal`/`bot_process_lost`.
"""

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

import structlog
from celery import Celery
from celery.signals import worker_ready, worker_shutting_down
from prometheus_client.core import Metric
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import inspect

from unmixed.bots.launchers.base import BotJob, CapacityUnknown, LaunchFailed
from unmixed.bots.launchers.local import LocalLauncher
from unmixed.bots.reaper import SWEEP_SECONDS, Reaper
from unmixed.commands import channel
from unmixed.metrics import gauge
from unmixed.settings import Settings
from unmixed.store import Bots, Database, open_database
from unmixed.store.leases import Leases
from unmixed.worker_http import serve_health

QUEUE = "unmixed.bots"
TASK = "unmixed.run_bot"
WORKERS_KEY = "unmixed:workers"
"""A set of the names of the workers that have announced their slots."""
WORKER_KEY_PREFIX = "unmixed:workers:"
"""Each worker's announcement, under its name: its slots, expiring unless renewed."""
SCHEMA_WAIT_SECONDS = 60.0
ANNOUNCE_SECONDS = 5.0
WORKER_KEY_TTL_SECONDS = 15
"""A worker's slots count for this long after it last announced them."""

log = structlog.get_logger(__name__)

T = TypeVar("T")


def celery_app(redis_url: str) -> Celery:
    app = Celery("unmixed", broker=redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


def redis_url_of(settings: Settings) -> str:
    if settings.redis_url is None:
        raise ValueError("the celery launcher needs UNMIXED_REDIS_URL")
    return settings.redis_url.get_secret_value()


class CeleryLauncher:
    """The API's end: sends each bot to the workers' queue."""

    def __init__(self, settings: Settings) -> None:
        redis_url = redis_url_of(settings)
        self._app = celery_app(redis_url)
        self._redis = Redis.from_url(redis_url, decode_responses=True)

    async def launch(self, job: BotJob) -> None:
        try:
            await asyncio.to_thread(self._app.send_task, TASK, args=[job.bot_id])
        except Exception as error:
            raise LaunchFailed(f"could not queue the bot: {type(error).__name__}") from error

    async def capacity(self) -> int:
        """The slots of every worker alive now (0 with none: every new bot waits)."""
        return await asyncio.to_thread(fleet_slots, self._redis)

    async def close(self) -> None:
        self._redis.close()
        self._app.close()


def fleet_slots(redis: Redis) -> int:
    """The slots every live worker announced: the workers named in the registry's set
    whose announcement has not expired (the names of expired ones are dropped)."""
    try:
        names = sorted(cast(set[str], redis.smembers(WORKERS_KEY)))
        announced = cast(
            list[str | None],
            redis.mget([WORKER_KEY_PREFIX + name for name in names]) if names else [],
        )
        gone = [name for name, value in zip(names, announced, strict=True) if value is None]
        if gone:
            redis.srem(WORKERS_KEY, *gone)
    except RedisError as error:
        raise CapacityUnknown(f"the worker registry is out of reach: {error}") from error
    return sum(_announced_slots(value) for value in announced if value is not None)


def _announced_slots(value: str) -> int:
    """A worker's announced slots; 0 for an announcement that makes no sense."""
    try:
        slots = json.loads(value)["slots"]
    except (ValueError, TypeError, KeyError):
        return 0
    return slots if isinstance(slots, int) and slots > 0 else 0


class StoreNotShared(RuntimeError):
    """The worker's database is not one an API has made: it could run no bot."""


def _wait_for_schema(database: Database) -> None:
    """Until an API has made the store's tables (API and workers may start together);
    `StoreNotShared` if none has after `SCHEMA_WAIT_SECONDS`. Nothing announces a new
    table, so the database is asked every second."""
    deadline = time.monotonic() + SCHEMA_WAIT_SECONDS
    while not inspect(database.engine).has_table("bots"):
        if time.monotonic() > deadline:
            raise StoreNotShared(
                "the store has no bots: point UNMIXED_DATABASE_URL at the API's database "
                "(PostgreSQL, when workers run on other machines)"
            )
        log.info("waiting for an API to set up the store")
        time.sleep(1.0)


class Worker:
    """`unmixed worker`: runs bots for the celery launcher, `slots` at once."""

    def __init__(self, settings: Settings, *, slots: int, name: str | None = None) -> None:
        self.settings = settings
        self.slots = slots
        self.name = name or f"unmixed@{socket.gethostname()}:{os.getpid()}"
        database = open_database(settings.resolved_database_url())
        _wait_for_schema(database)
        self._bots = Bots(database)
        self._leases = Leases(database)
        self._redis = Redis.from_url(redis_url_of(settings))
        self._app = celery_app(redis_url_of(settings))
        self._app.task(name=TASK)(self._run_bot)
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._local = _LocalLauncherThread(self._bots, self._leases, settings)
        self._stopping = threading.Event()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def run(self, metrics_address: tuple[str, int] | None = None) -> None:
        """Work until SIGTERM or Ctrl-C; then ask this worker's bots to leave, and wait.
        With `metrics_address`, serve `/healthz` and `/metrics` there."""
        worker_shutting_down.connect(self._on_shutdown, weak=False)
        worker_ready.connect(lambda **_: self._on_ready(metrics_address), weak=False)
        threading.Thread(target=self._reap_leases, name="reaper", daemon=True).start()
        worker = self._app.Worker(
            hostname=self.name,
            concurrency=self.slots,
            pool="threads",
            queues=[QUEUE],
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
            quiet=True,
        )
        try:
            worker.start()
        finally:
            self._stopping.set()
            with contextlib.suppress(RedisError):  # else it expires on its own
                self._redis.delete(WORKER_KEY_PREFIX + self.name)
                self._redis.srem(WORKERS_KEY, self.name)
            self._local.close()

    def _on_ready(self, metrics_address: tuple[str, int] | None) -> None:
        """Celery takes bots from the queue now: only now are the slots announced and
        `/healthz` answered, so neither says the worker is there before it is."""
        threading.Thread(target=self._announce_slots, name="announcer", daemon=True).start()
        if metrics_address is not None:
            serve_health(metrics_address, self._metrics)

    def _run_bot(self, bot_id: str) -> None:
        """The task: the bot's process, from start to end, in one of the slots."""
        log.info("starting bot", bot=bot_id, worker=self.name)
        with self._lock:
            self._running.add(bot_id)
        if self._stopping.is_set():  # taken as the worker began to stop: it leaves at once
            self._ask_to_leave(bot_id)
        try:
            self._local.run_bot(bot_id)
        finally:
            with self._lock:
                self._running.discard(bot_id)

    def _on_shutdown(self, **_: Any) -> None:
        """The worker is stopping: each of its bots is asked to leave, through the
        store as any command, and the worker waits for them (Celery's warm shutdown)."""
        self._stopping.set()
        with self._lock:
            bot_ids = list(self._running)
        for bot_id in bot_ids:
            self._ask_to_leave(bot_id)

    def _ask_to_leave(self, bot_id: str) -> None:
        self._leases.request_leave(bot_id)
        with contextlib.suppress(RedisError):  # the bot then finds it at its next poll
            self._redis.publish(channel(bot_id), "command")

    def _metrics(self) -> list[Metric]:
        running = self.running
        return [
            gauge("unmixed_worker_slots", "Bot slots of this worker.", self.slots),
            gauge("unmixed_worker_bots_running", "Bots running on this worker.", running),
            gauge(
                "unmixed_worker_slots_free", "Free bot slots of this worker.", self.slots - running
            ),
        ]

    def _announce_slots(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._redis.pipeline() as announcement:
                    announcement.set(
                        WORKER_KEY_PREFIX + self.name,
                        json.dumps({"slots": self.slots, "running": self.running}),
                        ex=WORKER_KEY_TTL_SECONDS,
                    )
                    announcement.sadd(WORKERS_KEY, self.name)
                    announcement.execute()
            except RedisError as error:
                log.warning("could not announce this worker's slots", error=str(error))
            self._stopping.wait(ANNOUNCE_SECONDS)

    def _reap_leases(self) -> None:
        reaper = Reaper(self._leases)
        while not self._stopping.wait(SWEEP_SECONDS):
            try:
                reaper.sweep()
            except Exception:
                log.exception("could not look for expired leases")


class _LocalLauncherThread:
    """The local launcher (`local.LocalLauncher`) on an event loop of its own thread:
    a worker's bots are forked from a warm process and watched as the API's own are
    (a bot that fails to start ends `bot_errored`, one whose process dies ends lost),
    instead of each starting Python afresh (about a third of the memory per bot, and
    a faster start). Celery's slot threads hand it their bots and wait for each to end."""

    def __init__(self, bots: Bots, leases: Leases, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="launcher", daemon=True)
        self._thread.start()
        self._launcher = self._call(_made_in_loop(bots, leases, settings))

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def run_bot(self, bot_id: str) -> None:
        """Start the bot's process and wait until it has ended and been accounted for."""
        self._call(self._launcher.run(bot_id))

    def close(self) -> None:
        """End the warm process and the loop (every task has ended by then: Celery's
        warm shutdown waited for them)."""
        self._call(self._launcher.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _made_in_loop(bots: Bots, leases: Leases, settings: Settings) -> LocalLauncher:
    """In the launcher's loop: its warm process starts there."""
    return LocalLauncher(bots, leases, settings)
