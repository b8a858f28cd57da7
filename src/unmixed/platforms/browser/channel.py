"""The bot's end of the capture channel: a websocket server on 127.0.0.1.

Every frame of the page opens its own connection (the capture script runs in
each), so a track is named by its connection and its number there. The path
holds a random token: any local process can reach the port, only the page the
bot configured knows where to knock. Messages are handed on as they come, on
the bot's loop; one the protocol does not allow is logged and dropped, never
allowed to stop the others.
"""

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from http import HTTPStatus

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from unmixed.platforms.browser.capture import (
    CaptureProtocolError,
    PageSignal,
    PcmBatch,
    TrackChanged,
    TrackOpened,
    parse_binary,
    parse_text,
)

MAX_MESSAGE_BYTES = 1 << 20
"""A second of 48 kHz PCM is 96 kB; anything near a megabyte is not audio."""
TRACKS_PER_CONNECTION = 1 << 16
"""Track numbers are 16 bits on the wire; connections are spaced beyond them."""
MAX_CONNECTIONS = 64
"""One per frame of the page; a page that opens more is not a meeting client."""

log = structlog.get_logger(__name__)

OnBatch = Callable[[PcmBatch], None]
OnSignal = Callable[[PageSignal], None]


class CaptureChannel:
    """`async with CaptureChannel(on_batch, on_signal) as channel:` then give the
    page `channel.url`."""

    def __init__(self, on_batch: OnBatch, on_signal: OnSignal) -> None:
        self._on_batch = on_batch
        self._on_signal = on_signal
        self._token = secrets.token_urlsafe(18)
        self._connections = itertools.count()
        self._opened = 0
        self._server: Server | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the capture channel is not open")
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/{self._token}"

    def is_own(self, url: str) -> bool:
        """Whether `url` is this channel (the page's capture connects to nothing else)."""
        return self._server is not None and url == self.url

    async def __aenter__(self) -> "CaptureChannel":
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            0,
            process_request=self._admit,
            compression=None,
            max_size=MAX_MESSAGE_BYTES,
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        if not secrets.compare_digest(request.path.encode(), f"/{self._token}".encode()):
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        if self._opened >= MAX_CONNECTIONS:
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too many connections\n")
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        self._opened += 1
        base = next(self._connections) * TRACKS_PER_CONNECTION
        dropped = 0
        try:
            async for message in connection:
                try:
                    self._hand_on(base, message)
                except CaptureProtocolError as error:
                    dropped += 1
                    if dropped in (1, 100, 10_000):
                        log.warning("capture message dropped", why=str(error), dropped=dropped)
                except Exception:
                    log.exception("a capture message could not be handled")
        except ConnectionClosed:
            pass

    def _hand_on(self, base: int, message: str | bytes) -> None:
        arrived_at = time.time()
        if isinstance(message, bytes):
            batch = parse_binary(message, arrived_at)
            self._on_batch(replace(batch, track=base + batch.track))
            return
        signal = parse_text(message, arrived_at)
        if isinstance(signal, TrackOpened | TrackChanged):
            signal = replace(signal, track=base + signal.track)
        if signal is not None:
            self._on_signal(signal)
