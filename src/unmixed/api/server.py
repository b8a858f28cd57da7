"""Run the API inside an existing event loop (the demo, the benchmark, the tests)."""

import asyncio

import uvicorn

from unmixed.api.app import create_app
from unmixed.net import free_port
from unmixed.service import Service
from unmixed.settings import Settings


class ApiServer(Service):
    """`async with ApiServer(settings) as api:` serves on `api.url` until the block ends."""

    def __init__(self, settings: Settings, *, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            log_config=None,
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
