"""One websocket connection to a receiver, fed through a bounded buffer.

The producer (the bot's audio path) never waits for the network: `send` only
appends to a buffer. A task of the connection's own connects, writes, and when
the receiver is unreachable keeps retrying every 3 s, as Recall does, for as
long as the buffer can hold what the receiver is missing: 40 tries, 120 s,
where Recall stops after 30 (90 s), so that an outage of a minute and a half
loses nothing. The buffer is bounded in bytes and holds over two minutes of
one participant's audio; past that it drops the oldest message, counting and
logging what it dropped.

Every connection goes where the egress policy allows: the receiver's name is
resolved and vetted on each attempt, and the connection is made to that
vetted address, never through a proxy from the environment.

Compression stays off: base64 PCM barely shrinks, and deflating every message
was the bot's single largest cost after Opus decoding.
"""

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import structlog
import websockets
from websockets.asyncio.client import ClientConnection, connect

from unmixed.egress import EgressPolicy, EgressRefused
from unmixed.signing import upgrade_headers
from unmixed.wire.bots import RealtimeEndpoint

RETRY_SECONDS = 3.0
MAX_ATTEMPTS = 40
MAX_BUFFERED_BYTES = 10 * 2**20
"""About 170 s of audio: a 40 ms message of 16 kHz PCM is some 2.4 kB of JSON."""

log = structlog.get_logger(__name__)

_CONNECT_ERRORS = (OSError, TimeoutError, websockets.InvalidHandshake)


@dataclass(frozen=True)
class Outbound:
    """How a bot reaches its user's servers: where the egress policy lets it connect,
    and the account's verification secret that signs what it sends (None: the
    account has none yet)."""

    egress: EgressPolicy
    secret: str | None = None
    on_failed: Callable[[str], None] | None = None
    """Told the id of an endpoint the bot gave up on."""
    _endpoints: list["EndpointHealth"] = field(default_factory=list)

    def endpoint(self, endpoint: RealtimeEndpoint) -> "EndpointHealth":
        health = EndpointHealth(
            endpoint.url,
            self.egress,
            self.secret,
            on_failed=_told(self.on_failed, endpoint.id) if self.on_failed else None,
        )
        self._endpoints.append(health)
        return health

    def reconnects(self) -> int:
        """Connections opened again after a receiver closed one or could not be reached."""
        return sum(health.reconnects for health in self._endpoints)


def _told(on_failed: Callable[[str], None], endpoint_id: str | None) -> Callable[[], None]:
    return lambda: on_failed(endpoint_id or "")


class EndpointHealth:
    """Shared by all connections to one endpoint: once it has failed, everyone stops."""

    def __init__(
        self,
        url: str,
        egress: EgressPolicy,
        secret: str | None = None,
        *,
        on_failed: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.egress = egress
        self.secret = secret
        self.failed = False
        self.reconnects = 0
        self._on_failed = on_failed

    def give_up(self, reason: str) -> None:
        if not self.failed:
            self.failed = True
            log.error("realtime endpoint failed", url=self.url, reason=reason)
            if self._on_failed is not None:
                self._on_failed()

    async def connect(self) -> ClientConnection:
        """Open a connection to the endpoint at an address the egress policy allows."""
        destination = await self.egress.resolve(self.url)
        signature = upgrade_headers(self.secret) if self.secret is not None else None
        return await connect(
            self.url,
            host=destination.address,
            port=destination.port,
            additional_headers=signature,
            proxy=None,
            open_timeout=5,
            close_timeout=2,
            compression=None,
        )


class Outgoing(ABC):
    """Messages to one endpoint, taken from a queue by a task of their own: `send`
    never waits, `finish` delivers the rest and stops, `abandon` stops now."""

    def __init__(self, name: str) -> None:
        self._wake = asyncio.Event()
        self._finishing = False
        self._task = asyncio.create_task(self._run(), name=name)

    @abstractmethod
    def send(self, message: bytes) -> None:
        """Queue one message: UTF-8 JSON, sent as text."""

    @abstractmethod
    async def _run(self) -> None: ...

    def finish(self) -> None:
        """Deliver what is queued, then stop."""
        self._finishing = True
        self._wake.set()

    @property
    def done(self) -> bool:
        return self._task.done()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._task)

    def abandon(self) -> None:
        """Stop now, dropping whatever was not delivered."""
        self._task.cancel()


class ReceiverConnection(Outgoing):
    """Messages for one participant on one endpoint, from an unmute to the next mute."""

    def __init__(self, health: EndpointHealth, *, label: str) -> None:
        self._health = health
        self._label = label
        self._buffer: deque[bytes] = deque()
        self._buffered_bytes = 0
        self.dropped = 0
        self.sent = 0
        super().__init__(f"ws-{label}")

    def send(self, message: bytes) -> None:
        if self._health.failed or self._task.done():
            self.dropped += 1
            return
        self._buffer.append(message)
        self._buffered_bytes += len(message)
        while self._buffered_bytes > MAX_BUFFERED_BYTES:
            self._buffered_bytes -= len(self._buffer.popleft())
            if not self.dropped:
                log.warning("buffer full: dropping the oldest audio", connection=self._label)
            self.dropped += 1
        self._wake.set()

    async def _run(self) -> None:
        try:
            await self._deliver()
        except (websockets.InvalidURI, EgressRefused) as error:
            self._health.give_up(str(error))
        except Exception:
            log.exception("websocket connection failed", connection=self._label)
        finally:
            self.dropped += len(self._buffer)
            self._buffer.clear()
            self._buffered_bytes = 0
            if self.dropped:
                log.warning(
                    "audio messages dropped",
                    connection=self._label,
                    dropped=self.dropped,
                    sent=self.sent,
                )

    async def _deliver(self) -> None:
        """Connect, write, reconnect: until finished and empty, or the endpoint has failed.

        Only a connection that carried audio resets the count of failed attempts,
        so a receiver that accepts and at once hangs up still runs out of tries.
        """
        attempts = 0
        loop = asyncio.get_running_loop()
        while not (self._finishing and not self._buffer) and not self._health.failed:
            sent_before = self.sent
            tried_at = loop.time()
            try:
                async with await self._health.connect() as socket:
                    await self._pump(socket)
            except (*_CONNECT_ERRORS, websockets.ConnectionClosed) as error:
                self._health.reconnects += 1
                if self.sent > sent_before:
                    attempts = 0
                    log.warning(
                        "receiver closed the connection, reconnecting",
                        connection=self._label,
                        error=str(error),
                    )
                    continue
                attempts += 1
                if attempts >= MAX_ATTEMPTS:
                    self._health.give_up(f"{attempts} connection attempts failed: {error}")
                    return
                log.warning(
                    "receiver unreachable, retrying",
                    connection=self._label,
                    attempt=attempts,
                    error=str(error),
                    buffered=len(self._buffer),
                )
                await asyncio.sleep(max(0.0, tried_at + RETRY_SECONDS - loop.time()))

    async def _pump(self, socket: ClientConnection) -> None:
        """Write the buffer out as it fills; return once finished and empty."""
        ignore_replies = asyncio.create_task(_discard_incoming(socket))
        try:
            while True:
                if not self._buffer:
                    if self._finishing:
                        await socket.close()
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await socket.send(self._buffer[0], text=True)
                self._buffered_bytes -= len(self._buffer.popleft())
                self.sent += 1
        finally:
            ignore_replies.cancel()


async def drain(connections: Collection[Outgoing], seconds: float) -> int:
    """Finish `connections`, give receivers `seconds` to take what is buffered, then
    let go of them; the number that did not finish in time."""
    for connection in connections:
        connection.finish()
    if not connections:
        return 0
    waits = [asyncio.ensure_future(connection.wait_closed()) for connection in connections]
    _, not_done = await asyncio.wait(waits, timeout=seconds)
    for connection in connections:
        connection.abandon()
    return len(not_done)


async def _discard_incoming(socket: ClientConnection) -> None:
    """Read and ignore what the receiver sends, so its messages never back up."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in socket:
            pass
