"""A real webhook receiver, as a Recall customer would write one: Starlette, and
every request verified with `standardwebhooks` against the secret unmixed gave."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from unmixed.asgi_server import AsgiServer
from unmixed.store.webhooks import new_secret

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class Received:
    webhook_id: str
    payload: dict[str, Any]
    arrived_at: float
    """Unix time."""
    body: str = ""
    signature_headers: tuple[tuple[str, str], ...] = ()
    """`webhook-id`, `webhook-timestamp` and `webhook-signature`, as they came."""


class WebhookReceiver(AsgiServer):
    """POST `url`. Answers `answer` (200 unless a test sets it) to requests that pass
    verification with `secret`, 401 to any other; `delivered` holds what it took
    with a 2xx, `refused` the verified requests it turned away."""

    def __init__(self) -> None:
        super().__init__(
            Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]),
            name="webhook receiver",
        )
        self.secret = ""
        self.answer = 200
        self.delivered: list[Received] = []
        self.refused: list[Received] = []
        self.unverified = 0
        """Requests that failed verification with `secret`, or passed it with another."""
        self._changed = asyncio.Event()

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    async def _hook(self, request: Request) -> Response:
        status = self._take((await request.body()).decode(), dict(request.headers))
        self._changed.set()
        return Response(status_code=status)

    def _take(self, body: str, headers: dict[str, str]) -> int:
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.unverified += 1
            return 401
        if _verifies(new_secret(), body, headers):
            self.unverified += 1  # a signature any secret passes proves nothing
            return 401
        signature = tuple((name, headers[name]) for name in SIGNATURE_HEADERS)
        received = Received(headers["webhook-id"], payload, time.time(), body, signature)
        (self.delivered if 200 <= self.answer < 300 else self.refused).append(received)
        return self.answer

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until `condition` holds, checking it after each request."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


def _verifies(secret: str, body: str, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True
