"""Serve an ASGI app with uvicorn inside an existing event loop, on 127.0.0.1."""

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from unmixed.net import free_port
from unmixed.service import Service


class EmbeddedUvicorn(uvicorn.Server):
    """A uvicorn that leaves signals to the program it runs in.

    A standalone uvicorn catches SIGTERM and SIGINT and raises them again once it
    has stopped. Inside `unmixed testbed` or the demo that second signal would
    cancel the program's cleanup halfway (Janus left running); the program stops
    this server itself.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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
        self._server = EmbeddedUvicorn(config)
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
