"""Everything unmixed needs, on this machine: a testbed SFU, the API, a receiver.

The demo and the benchmark both start this stack and send a bot through the
real HTTP API, exactly as a user would. The bench's fleet can also run its bots
the way a fleet of machines would: on a Celery worker, over a private Redis.
"""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from redis.asyncio import Redis

from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.net import free_port
from unmixed.receiver import AudioReceiver
from unmixed.settings import Settings
from unmixed.testbed.redis import RedisServer
from unmixed.testbed.server import JanusServer
from unmixed.wire.bots import Bot
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA, TRANSCRIPT_EVENTS
from unmixed.wire.status import StatusCode

BOT_READY_TIMEOUT = 30.0
WORKER_READY_TIMEOUT = 60.0


@dataclass
class LocalStack:
    janus: JanusServer
    receiver: AudioReceiver
    api: ApiServer
    client: AsyncUnmixedClient
    worker: subprocess.Popen[bytes] | None = None
    """The Celery worker running the bots, when the stack has one."""

    def kill_worker(self) -> None:
        """SIGKILL the worker and its bots at once, as when their machine dies."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    async def send_bot(
        self, meeting_url: str, bot_name: str = "unmixed", *, transcript: bool = False
    ) -> Bot:
        """Create a bot with Recall's request shape and wait until it is recording."""
        bot = await self.create_bot(meeting_url, bot_name, transcript=transcript)
        return await self.client.wait_for_status(
            bot.id, {StatusCode.IN_CALL_RECORDING, *FINISHED}, timeout=BOT_READY_TIMEOUT
        )

    async def create_bot(
        self,
        meeting_url: str,
        bot_name: str = "unmixed",
        *,
        transcript: bool = False,
        **options: Any,
    ) -> Bot:
        """Create a bot that streams to this stack's receiver, with Recall's request shape
        (and any other fields of it in `options`); with `transcript`, it transcribes too,
        as Recall's `recallai_streaming` asks. The API answers at once, before the bot
        has joined."""
        config: dict[str, Any] = {"audio_separate_raw": {}}
        events = [AUDIO_SEPARATE_RAW_DATA]
        if transcript:
            config["transcript"] = {"provider": {"recallai_streaming": {}}}
            events += TRANSCRIPT_EVENTS
        endpoint = {"type": "websocket", "url": self.receiver.url, "events": events}
        return await self.client.create_bot(
            meeting_url=meeting_url,
            bot_name=bot_name,
            **options,
            recording_config={**config, "realtime_endpoints": [endpoint]},
        )


FINISHED = {StatusCode.DONE, StatusCode.FATAL}


POLLS_PER_BOT_PER_MINUTE = 300
"""Recall's per-key rate for every route but creating and listing: one client polling one bot."""


@asynccontextmanager
async def local_stack(
    work_dir: Path,
    out_dir: Path | None = None,
    *,
    bots: int = 1,
    launcher: Literal["local", "celery"] = "local",
) -> AsyncIterator[LocalStack]:
    """Janus, an API with a throwaway SQLite database in `work_dir`, and a receiver.

    `bots` above 1 sizes the API for that many bots at once from this one client
    (the bench's fleet): that many slots, whatever the machine's default, and a
    per-key rate that lets it poll each of them as it would poll one. With the
    `celery` launcher, the bots run on an `unmixed worker` with that many slots,
    over a private Redis."""
    api_key = secrets.token_urlsafe(16)
    settings = Settings(
        data_dir=work_dir, database_url=None, api_key=SecretStr(api_key), testbed_enabled=True
    )
    if bots > 1:
        settings = settings.model_copy(
            update={
                "bot_slots": bots,
                "rate_limit_other": f"{POLLS_PER_BOT_PER_MINUTE * bots}/minute",
            }
        )
    async with AsyncExitStack() as stack:
        janus = await stack.enter_async_context(JanusServer())
        redis_url = None
        if launcher == "celery":
            redis_url = (await stack.enter_async_context(RedisServer())).url
            settings = settings.model_copy(
                update={"launcher": "celery", "redis_url": SecretStr(redis_url)}
            )
        receiver = await stack.enter_async_context(AudioReceiver(out_dir=out_dir))
        api = await stack.enter_async_context(ApiServer(settings))  # it sets up the store
        client = await stack.enter_async_context(AsyncUnmixedClient(api.url, api_key))
        worker = None
        if redis_url is not None:
            worker = _start_worker(settings, bots, work_dir)
            stack.callback(_stop_worker, worker)
            await _worker_announced(redis_url)
        yield LocalStack(janus, receiver, api, client, worker)


def _start_worker(settings: Settings, slots: int, work_dir: Path) -> subprocess.Popen[bytes]:
    """`unmixed worker` in a session of its own (its bots with it), logging to `work_dir`."""
    environment = {**os.environ, **settings.bot_environment()}
    with (work_dir / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "unmixed.cli",
                "worker",
                "--slots",
                str(slots),
                "--name",
                "bench",
                "--metrics-port",
                str(free_port()),
            ],
            env=environment,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


async def _worker_announced(redis_url: str) -> None:
    """Until the worker has announced its slots (it then takes bots from the queue).
    Redis has nothing to wait on for a key to appear: it is asked every 100 ms."""
    from unmixed.bots.launchers.celery import WORKER_KEY_PREFIX  # Celery is an extra

    redis = Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(WORKER_READY_TIMEOUT):
            while True:
                if await redis.exists(WORKER_KEY_PREFIX + "bench"):
                    return
                await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
