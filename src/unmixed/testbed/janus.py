"""A small asyncio client for the Janus JSON API over its HTTP transport.

Janus answers plugin requests in two ways: "sync" ones (`create`, `moderate`,
`listparticipants`) come back in the HTTP response, "async" ones (`join`,
`configure`, `start`, `leave`) are acknowledged and their result arrives later
on the session's long-poll, tagged with the request's transaction. Callers see
one coroutine either way. Everything Janus says that is not a reply goes to the
queue of the handle it concerns.
"""

import asyncio
import contextlib
import secrets
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

JsonObject = dict[str, Any]

KEEPALIVE_SECONDS = 25.0
"""Janus drops a session after `session_timeout` (60 s) without a request."""

LONG_POLL_SECONDS = 60.0
"""Janus answers an idle long-poll after 30 s with a keepalive; wait a little longer."""

REPLY_SECONDS = 20.0
"""How long a deferred plugin reply may take before Janus counts as gone."""

TLS = ssl.create_default_context()
"""Made once, at import, for every session: an httpx client otherwise builds its own and
loads the CA bundle into it (about 40 ms of CPU, a third of a bot's start), even for
Janus on plain http. The warm bot process imports this, so bots share it ready-made."""

JANUS_NO_SUCH_SESSION = 458


class JanusError(Exception):
    """Janus, or the plugin, refused a request."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusUnreachable(Exception):
    """Nothing answers at the Janus URL."""


@dataclass(frozen=True)
class PluginReply:
    data: JsonObject
    jsep: JsonObject | None


def _transaction() -> str:
    return secrets.token_hex(8)


def _raise_for_error(message: JsonObject) -> None:
    if message.get("janus") == "error":
        error = message.get("error", {})
        raise JanusError(int(error.get("code", 0)), str(error.get("reason", "unknown error")))
    data = message.get("plugindata", {}).get("data", {})
    if "error_code" in data:
        raise JanusError(int(data["error_code"]), str(data.get("error", "plugin error")))


class JanusSession:
    """One Janus session: its handles, its long-poll and its keepalives."""

    def __init__(self, http: httpx.AsyncClient, url: str, session_id: int) -> None:
        self._http = http
        self.url = url
        self.id = session_id
        self._handles: dict[int, JanusHandle] = {}
        self._replies: dict[str, asyncio.Future[JsonObject]] = {}
        self._tasks = [
            asyncio.create_task(self._poll_events(), name=f"janus-poll-{session_id}"),
            asyncio.create_task(self._keep_alive(), name=f"janus-keepalive-{session_id}"),
        ]

    @classmethod
    async def create(cls, url: str) -> "JanusSession":
        """Open a session on the Janus at `url` (e.g. http://127.0.0.1:8088/janus)."""
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, read=LONG_POLL_SECONDS + 5), verify=TLS
        )
        try:
            reply = await cls._post(http, url, {"janus": "create"})
        except BaseException:
            await http.aclose()
            raise
        return cls(http, url, int(reply["data"]["id"]))

    @staticmethod
    async def _post(http: httpx.AsyncClient, url: str, body: JsonObject) -> JsonObject:
        body = {**body, "transaction": body.get("transaction", _transaction())}
        try:
            response = await http.post(url, json=body)
            message = response.json()
        except (httpx.TransportError, ValueError) as error:
            raise JanusUnreachable(f"no Janus answered at {url}") from error
        if not isinstance(message, dict):
            raise JanusUnreachable(f"no Janus answered at {url}")
        _raise_for_error(message)
        return message

    async def attach(self, plugin: str = "janus.plugin.videoroom") -> "JanusHandle":
        reply = await self._post(
            self._http, f"{self.url}/{self.id}", {"janus": "attach", "plugin": plugin}
        )
        handle = JanusHandle(self, int(reply["data"]["id"]))
        self._handles[handle.id] = handle
        return handle

    async def send(
        self, handle_id: int, body: JsonObject, *, ack_defers: bool = True
    ) -> JsonObject:
        """Send a handle-level request and return Janus's answer.

        With `ack_defers`, an `ack` means the answer comes later on the long-poll
        (plugin messages); without it the `ack` is the whole answer (trickle).
        """
        transaction = _transaction()
        pending = asyncio.get_running_loop().create_future()
        self._replies[transaction] = pending
        try:
            reply = await self._post(
                self._http,
                f"{self.url}/{self.id}/{handle_id}",
                {**body, "transaction": transaction},
            )
            if reply.get("janus") != "ack" or not ack_defers:
                return reply
            try:
                async with asyncio.timeout(REPLY_SECONDS):
                    deferred = await pending
            except TimeoutError as error:
                raise JanusUnreachable(
                    f"Janus did not answer a {body['janus']!r} in time"
                ) from error
            _raise_for_error(deferred)
            return deferred
        finally:
            self._replies.pop(transaction, None)

    def forget(self, handle_id: int) -> None:
        self._handles.pop(handle_id, None)

    async def destroy(self) -> None:
        """Stop polling, then end the session (in that order, or Janus logs a lost session)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(JanusError, JanusUnreachable, httpx.HTTPError):
            await self._post(self._http, f"{self.url}/{self.id}", {"janus": "destroy"})
        await self._http.aclose()

    async def _poll_events(self) -> None:
        try:
            while True:
                response = await self._http.get(f"{self.url}/{self.id}", params={"maxev": 10})
                events = response.json()
                for event in events if isinstance(events, list) else [events]:
                    if _session_gone(event):
                        self._lost()
                        return
                    self._dispatch(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._lost()

    def _dispatch(self, event: JsonObject) -> None:
        if event.get("janus") == "keepalive":
            return
        pending = self._replies.get(event.get("transaction", ""))
        if pending is not None and event.get("janus") in ("event", "success", "error"):
            if not pending.done():
                pending.set_result(event)
            return
        handle = self._handles.get(event.get("sender", 0))
        if handle is not None:
            handle.events.put_nowait(event)

    def _lost(self) -> None:
        """Janus went away: tell every handle, so nobody waits forever."""
        for handle in self._handles.values():
            handle.events.put_nowait({"janus": "session_lost"})
        for pending in self._replies.values():
            if not pending.done():
                pending.set_exception(JanusUnreachable("the Janus session was lost"))

    async def _keep_alive(self) -> None:
        with contextlib.suppress(JanusError, JanusUnreachable, httpx.HTTPError, ValueError):
            while True:
                await asyncio.sleep(KEEPALIVE_SECONDS)
                await self._post(self._http, f"{self.url}/{self.id}", {"janus": "keepalive"})


def _session_gone(event: JsonObject) -> bool:
    """Janus answers a poll on a session it has dropped (e.g. timed out) with error 458."""
    error = event.get("error", {})
    return event.get("janus") == "error" and error.get("code") == JANUS_NO_SUCH_SESSION


class JanusHandle:
    """A session's attachment to a plugin; unsolicited events land in `events`."""

    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id
        self.events: asyncio.Queue[JsonObject] = asyncio.Queue()

    async def request(self, body: JsonObject, jsep: JsonObject | None = None) -> PluginReply:
        message: JsonObject = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        reply = await self.session.send(self.id, message)
        return PluginReply(data=reply.get("plugindata", {}).get("data", {}), jsep=reply.get("jsep"))

    async def trickle_done(self) -> None:
        """We put every candidate in the SDP; tell Janus there are no more."""
        await self.session.send(
            self.id, {"janus": "trickle", "candidate": {"completed": True}}, ack_defers=False
        )

    async def detach(self) -> None:
        self.session.forget(self.id)
        with contextlib.suppress(JanusError, JanusUnreachable):
            await self.session.send(self.id, {"janus": "detach"})
