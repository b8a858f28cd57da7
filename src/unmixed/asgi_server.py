"""Serve an ASGI app with uvicorn inside an existing event loop, on 127.0.0.1."""

import asyncio

import uvicorn
from starlette.types import ASGIApp

from unmixed.net import free_port
from unmixed.service import Service


class AsgiServer(Service):
    """`async with AsgiServer(app) as server:` serves `app` on `server.url` until the block ends."""

    def __init__(self, app: ASGIApp, *, port: int | None = None, name: str = "server") -> None:
        self.port = port or free_port()
        self._name = name
        config = uvicorn.Config(
            app,
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
                raise RuntimeError(f"the {self._name} stopped while starting")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
