"""The `celery` launcher: bots run on workers (`unmixed worker --slots N`) on any
number of machines, handed over through Redis by Celery.

A worker runs one bot per slot. It fetches a bot only when it has a free slot
(`worker_disable_prefetch`, a prefetch of one), and the message is acknowledged
as the task starts, that is, when the bot's process is started: a redelivery can
never start a second bot for the same meeting (and if one did, the bot's claim in
the store, a conditional update, would let only one of them run).

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
import subprocess
import sys
import threading
from typing import Any

import structlog
from celery import Celery
from celery.signals import worker_shutting_down
from prometheus_client.core import Metric
from redis import Redis
from redis.exceptions import RedisError

from unmixed.bots.launchers.base import BotJob, LaunchFailed
from unmixed.bots.launchers.settle import settle_exit
from unmixed.bots.scheduler import REAP_SECONDS, reap
from unmixed.commands import channel
from unmixed.metrics import gauge
from unmixed.settings import Settings
from unmixed.store import Bots, open_database
from unmixed.store.leases import Leases
from unmixed.worker_http import serve_health

QUEUE = "unmixed.bots"
TASK = "unmixed.run_bot"
WORKER_KEY_PREFIX = "unmixed:workers:"
ANNOUNCE_SECONDS = 5.0
WORKER_KEY_TTL_SECONDS = 15
"""A worker's slots count for this long after it last announced them."""

log = structlog.get_logger(__name__)


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
        self._redis = Redis.from_url(redis_url)

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
    try:
        keys = list(redis.scan_iter(match=WORKER_KEY_PREFIX + "*"))
        announced = redis.mget(keys) if keys else []
    except RedisError as error:
        log.warning("could not read the workers' slots", error=str(error))
        return 0
    return sum(json.loads(value)["slots"] for value in announced if value is not None)


class Worker:
    """`unmixed worker`: runs bots for the celery launcher, `slots` at once."""

    def __init__(self, settings: Settings, *, slots: int, name: str | None = None) -> None:
        self.settings = settings
        self.slots = slots
        self.name = name or f"unmixed@{socket.gethostname()}:{os.getpid()}"
        database = open_database(settings.resolved_database_url())
        self._bots = Bots(database)
        self._leases = Leases(database)
        self._redis = Redis.from_url(redis_url_of(settings))
        self._app = celery_app(redis_url_of(settings))
        self._app.task(name=TASK)(self._run_bot)
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def run(self, metrics_address: tuple[str, int] | None = None) -> None:
        """Work until SIGTERM or Ctrl-C; then ask this worker's bots to leave, and wait.
        With `metrics_address`, serve `/healthz` and `/metrics` there."""
        worker_shutting_down.connect(self._on_shutdown, weak=False)
        for loop in (self._announce_slots, self._reap_leases):
            threading.Thread(target=loop, name=loop.__name__, daemon=True).start()
        if metrics_address is not None:
            serve_health(metrics_address, self._metrics)
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
        worker.start()
        self._stopping.set()
        self._redis.delete(WORKER_KEY_PREFIX + self.name)

    def _run_bot(self, bot_id: str) -> None:
        """The task: the bot's process, from start to end, in one of the slots."""
        log.info("starting bot", bot=bot_id, worker=self.name)
        process = subprocess.Popen(
            [sys.executable, "-m", "unmixed.bots.runner", bot_id],
            env={
                **{name: value for name, value in os.environ.items() if name != "UNMIXED_API_KEY"},
                **self.settings.bot_environment(),
            },
            stdout=subprocess.DEVNULL,
        )
        with self._lock:
            self._running[bot_id] = process
        try:
            exit_code = process.wait()
        finally:
            with self._lock:
                del self._running[bot_id]
        log.info("bot process exited", bot=bot_id, exit_code=exit_code)
        settle_exit(self._bots, self._leases, bot_id, exit_code, stopping=False)

    def _on_shutdown(self, **_: Any) -> None:
        """The worker is stopping: each of its bots is asked to leave, through the
        store as any command, and the worker waits for them (Celery's warm shutdown)."""
        self._stopping.set()
        with self._lock:
            bot_ids = list(self._running)
        for bot_id in bot_ids:
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
                self._redis.set(
                    WORKER_KEY_PREFIX + self.name,
                    json.dumps({"slots": self.slots, "running": self.running}),
                    ex=WORKER_KEY_TTL_SECONDS,
                )
            except RedisError as error:
                log.warning("could not announce this worker's slots", error=str(error))
            self._stopping.wait(ANNOUNCE_SECONDS)

    def _reap_leases(self) -> None:
        while not self._stopping.wait(REAP_SECONDS):
            try:
                reap(self._leases)
            except Exception:
                log.exception("could not look for expired leases")
