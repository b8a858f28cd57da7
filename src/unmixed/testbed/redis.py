"""A private redis-server on loopback, for the bench's Celery fleet and the tests.

Debian's own binary (`scripts/setup` installs `redis-server`), on a free port,
keeping nothing on disk. Ready when it says so on its output: an event, not a guess.
"""

import asyncio
import contextlib
import shutil
from collections import deque

from unmixed.net import free_port
from unmixed.service import Service

READY_LINE = b"ready to accept connections"
START_SECONDS = 30.0
PORT_ATTEMPTS = 5
"""A free port can be taken between choosing it and the server binding it: try another."""


class RedisNotInstalled(RuntimeError):
    pass


class RedisFailed(RuntimeError):
    """redis-server did not start; the message ends with what it printed."""


class RedisServer(Service):
    """`async with RedisServer() as redis:` serves `redis.url` (database 0) until the block ends."""

    def __init__(self) -> None:
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._tail: deque[str] = deque(maxlen=30)
        self._reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisNotInstalled("redis-server is missing; run scripts/setup")
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            self._process = await asyncio.create_subprocess_exec(
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            if await self._ready():
                self._reader = asyncio.create_task(self._read_rest(), name="redis-server output")
                return
            await self.stop()
            if not any("address already in use" in line.lower() for line in self._tail):
                break
        raise RedisFailed("redis-server did not start:\n" + "\n".join(self._tail))

    async def _ready(self) -> bool:
        """Read its output until it says it is ready (True), or ends or takes too long."""
        assert self._process is not None
        assert self._process.stdout is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_SECONDS):
                while line := await self._process.stdout.readline():
                    self._tail.append(line.decode(errors="replace").rstrip())
                    if READY_LINE in line.lower():
                        return True
        return False

    async def _read_rest(self) -> None:
        """Keep its output flowing (a full pipe would stall it), keeping the last lines."""
        assert self._process is not None
        assert self._process.stdout is not None
        while line := await self._process.stdout.readline():
            self._tail.append(line.decode(errors="replace").rstrip())

    async def stop(self) -> None:
        """SIGTERM: with nothing to save, redis-server exits at once."""
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        if self._reader is not None:
            await self._reader
            self._reader = None
