"""The egress policy, applied to everything a meeting page fetches or connects to.

A bot's browser runs the meeting site's scripts, which may ask for any URL; so
every HTTP request and every websocket of the page passes the same policy as
the bot's own connections, by its host, resolved once per host and port. What
this cannot see: WebRTC's media connections (the site's servers choose them),
and a name that resolves elsewhere when Chromium looks it up again after our
check (DNS rebinding); the README says so.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

import structlog
from playwright.async_api import BrowserContext, Route, WebSocketRoute

from unmixed.egress import EgressPolicy, EgressRefused

log = structlog.get_logger(__name__)

ROUTED_SCHEMES = ("http", "https", "ws", "wss")


class PageEgress:
    """Install on a browser context with `install`; `exempt` URLs (the bot's own
    capture channel) are left alone."""

    def __init__(self, policy: EgressPolicy, exempt: Callable[[str], bool]) -> None:
        self._policy = policy
        self._exempt = exempt
        self._verdicts: dict[tuple[str, str, int | None], bool] = {}

    async def install(self, context: BrowserContext) -> None:
        await context.route("**/*", self._on_request)
        await context.route_web_socket(lambda url: not self._exempt(url), self._on_websocket)

    async def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ROUTED_SCHEMES:
            return True
        destination = (parts.scheme, parts.hostname or "", parts.port)
        if destination not in self._verdicts:
            try:
                await self._policy.resolve(url)
                self._verdicts[destination] = True
            except (EgressRefused, OSError):
                log.warning("the meeting page was refused a destination", host=parts.hostname)
                self._verdicts[destination] = False
        return self._verdicts[destination]

    async def _on_request(self, route: Route) -> None:
        if await self.allows(route.request.url):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    async def _on_websocket(self, websocket: WebSocketRoute) -> None:
        if await self.allows(websocket.url):
            websocket.connect_to_server()
        else:
            await websocket.close(code=1008, reason="refused by the bot's egress policy")
