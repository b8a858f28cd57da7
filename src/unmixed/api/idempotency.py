"""`Idempotency-Key`, as Recall takes it on POST, PUT and PATCH: a retry with the
same key (per key holder, method and path) within an hour gets the first answer
again, status and body, without the request running twice; a retry while the
first is still running gets a 409, and a key reused for another body a 422.

It runs inside `RequestGuard`, once the caller, rate and body have passed (a
request turned away there claims no key), and around the routes, so what is kept
is exactly what was answered, errors included. Answers that mean "try again"
(5xx, and 507 for a busy server) are not kept: a retry runs again.
"""

import asyncio

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unmixed.api.errors import ApiProblem
from unmixed.store import Owner
from unmixed.store.idempotency import IdempotencyKeys, IdempotentRequest, Pending, StoredAnswer

HEADER = "Idempotency-Key"
METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_KEY_LENGTH = 255
NOT_KEPT_FROM = 500
"""Answers from this status up say "try again": they are not replayed."""
SECRET_BEARING_PATHS = ("/api/v1/webhook_endpoint",)
"""Their answers may carry the account's verification secret, which is never stored in
clear beside it: the header is ignored there (adding an endpoint twice is harmless)."""

_REFUSALS = {
    Pending.IN_PROGRESS: (
        409,
        "idempotency_key_in_use",
        f"a request with this {HEADER} is still in progress; retry it in a moment",
    ),
    Pending.OTHER_BODY: (
        422,
        "idempotency_key_reused",
        f"this {HEADER} was used within the hour for a request with another body; "
        "a new request needs a new key",
    ),
}


async def answer_once(
    app: ASGIApp,
    keys: IdempotencyKeys,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    owner: Owner,
    body: bytes,
) -> None:
    """Run the request through `app`, or answer it from its key without running it."""
    try:
        request = _idempotent_request(scope, owner, body)
    except ApiProblem as problem:
        await problem.response()(scope, receive, send)
        return
    if request is None:
        await app(scope, receive, send)
        return
    outcome = await asyncio.to_thread(keys.claim, request)
    if isinstance(outcome, StoredAnswer):
        replay = Response(outcome.body, outcome.status, media_type=outcome.content_type)
        await replay(scope, receive, send)
    elif isinstance(outcome, Pending):
        status, code, detail = _REFUSALS[outcome]
        await ApiProblem(status, code, detail, HEADER).response()(scope, receive, send)
    else:
        await _run_claimed(app, keys, request, scope, receive, send)


def _idempotent_request(scope: Scope, owner: Owner, body: bytes) -> IdempotentRequest | None:
    if scope["method"] not in METHODS or scope["path"].startswith(SECRET_BEARING_PATHS):
        return None
    key = Headers(scope=scope).get(HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise ApiProblem(
            400, "invalid_request", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters", HEADER
        )
    return IdempotentRequest.of(owner, scope["method"], scope["path"], key, body)


async def _run_claimed(
    app: ASGIApp,
    keys: IdempotencyKeys,
    request: IdempotentRequest,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    answer = _HeldAnswer()
    try:
        await app(scope, receive, answer.send)
    except BaseException:
        await asyncio.to_thread(keys.release, request)
        raise
    if answer.status is not None and answer.status < NOT_KEPT_FROM:
        await asyncio.to_thread(
            keys.answer, request, answer.status, answer.content_type, answer.body
        )
    else:
        await asyncio.to_thread(keys.release, request)
    await answer.deliver(send)


class _HeldAnswer:
    """The app's answer, held back until it is kept: a retry sent the moment the
    client has the first answer must find it, never a request in progress."""

    def __init__(self) -> None:
        self._messages: list[Message] = []
        self.status: int | None = None
        self.content_type: str | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.content_type = Headers(raw=message.get("headers", [])).get("content-type")
        self._messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(
            message.get("body", b"")
            for message in self._messages
            if message["type"] == "http.response.body"
        )

    async def deliver(self, send: Send) -> None:
        for message in self._messages:
            await send(message)
