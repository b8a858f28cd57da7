"""What every request passes through: key, rate and body size before it is routed,
then its `Idempotency-Key` (`idempotency.py`), and a wall around whatever fails after.

It runs as ASGI middleware, ahead of FastAPI, because FastAPI reads and parses
a body before any dependency runs: here an anonymous or over-eager caller is
turned away before a byte of the body is read, and a body over the cap is
refused as soon as it is known to be too large, without reading the rest.

A request that fails unexpectedly is answered here with a JSON 500 that says
nothing internal, and its traceback is logged (plainly, redacted, by the log's
own thread). The exception stops here: the server keeps the client's connection
open, so a bug in one request never costs another a dropped reply. (Only when
part of a response is already out does it go on to the server, which then
closes the connection, the one way left to tell the client.)
"""

import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unmixed.api.auth import authenticate
from unmixed.api.errors import INTERNAL_ERROR, ApiProblem, error_response
from unmixed.api.idempotency import answer_once
from unmixed.api.rate_limits import RouteClass
from unmixed.api.state import ServiceState
from unmixed.store import Owner

log = structlog.get_logger(__name__)

API_PREFIX = "/api/"
BOTS_PATH = "/api/v1/bot"


def route_class(scope: Scope) -> RouteClass:
    if scope["path"].rstrip("/") == BOTS_PATH:
        if scope["method"] == "POST":
            return RouteClass.CREATE
        if scope["method"] == "GET":
            return RouteClass.LIST
    return RouteClass.OTHER


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def send_and_note(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._serve(scope, receive, send_and_note)
        except Exception:
            log.exception("request failed", method=scope["method"], path=scope["path"])
            if answered:
                raise  # half a response is out: only closing the connection tells the client
            await error_response(500, INTERNAL_ERROR)(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            owner, body = await self._admit(scope, receive)
        except ApiProblem as problem:
            await problem.response()(scope, receive, send)
            return
        except ClientGone:
            return  # half a body and a hang-up: nothing to act on, nobody to answer
        scope.setdefault("state", {})["owner"] = owner
        state: ServiceState = scope["app"].state.service
        await answer_once(
            self.app, state.idempotency, scope, _replay(body, receive), send, owner=owner, body=body
        )

    async def _admit(self, scope: Scope, receive: Receive) -> tuple[Owner, bytes]:
        state: ServiceState = scope["app"].state.service
        headers = Headers(scope=scope)
        owner = await authenticate(state.settings, state.keys, headers.get("authorization"))
        if owner is None:
            raise ApiProblem(
                401,
                "authentication_failed",
                "send a valid API key: Authorization: Token <key>",
            )
        retry_after = await state.rate_limits.hit(route_class(scope), owner)
        if retry_after is not None:
            raise ApiProblem(
                429,
                "rate_limited",
                f"too many requests for this key; retry in {retry_after} s",
                retry_after=retry_after,
            )
        return owner, await _read_body(receive, headers, state.settings.max_body_bytes)


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem(413, "body_too_large", f"the request body may be at most {limit} bytes")


async def _read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the body already read to the app, then pass on what comes after (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
