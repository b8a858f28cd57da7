"""`unmixed serve` as a real process: for tests that kill it, restart it, or read its log."""

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import httpx

from unmixed.net import free_port
from unmixed.service import Service

READY_TIMEOUT_SECONDS = 20.0


class ServeProcess(Service):
    """`async with ServeProcess(environment, log_path) as api:` runs `unmixed serve`
    with `UNMIXED_*` settings from `environment`; its log (and that of every bot
    it starts, which inherit it) is appended to `log_path`."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self._environment = {**os.environ, **environment}
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "unmixed.cli",
                "serve",
                "--port",
                str(self.port),
                stdout=log,
                stderr=log,
                env=self._environment,
            )
        async with httpx.AsyncClient(timeout=1.0) as http, asyncio.timeout(READY_TIMEOUT_SECONDS):
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"unmixed serve exited at start; see {self.log_path}")
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"{self.url}/openapi.json")
                    return
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL the API alone, as a crash would: its bots live on."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()
