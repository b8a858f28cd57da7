"""The egress policy holds inside the bot's browser: what a meeting page fetches, and
where its websockets go, passes the same policy as every connection of the bot's."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from tests.recording import MeetingRecord
from unmixed.asgi_server import AsgiServer
from unmixed.chromium import launch_chromium
from unmixed.egress import EgressPolicy
from unmixed.platforms.base import JoinError
from unmixed.platforms.browser import testbed_web
from unmixed.platforms.browser.adapter import BrowserAdapter
from unmixed.platforms.browser.page_egress import PageEgress
from unmixed.wire.status import SubCode

TRY_FETCH = """async (url) => {
  try { return (await fetch(url)).status; } catch (error) { return 'refused'; }
}"""
TRY_WEBSOCKET = """(url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.onopen = () => resolve('open');
  socket.onclose = (event) => resolve('closed ' + event.code);
})"""


@pytest.fixture(scope="module")
async def site() -> AsyncIterator[AsgiServer]:
    async def page(_: object) -> HTMLResponse:
        return HTMLResponse("<p>a meeting site</p>")

    async def data(_: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", page), Route("/data", data)])
    async with AsgiServer(app, name="site") as server:
        yield server


@pytest.fixture
async def guarded_page(site: AsgiServer) -> AsyncIterator[Page]:
    async with launch_chromium() as browser:
        context = await browser.new_context()
        await PageEgress(EgressPolicy(allow_private=True), exempt=lambda _: False).install(context)
        page = await context.new_page()
        await page.goto(site.url)
        yield page


async def test_a_page_may_fetch_what_the_policy_allows_and_nothing_else(
    guarded_page: Page, site: AsgiServer
) -> None:
    assert await guarded_page.evaluate(TRY_FETCH, f"{site.url}/data") == 200
    for refused in ("http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/"):
        assert await guarded_page.evaluate(TRY_FETCH, refused) == "refused"


async def test_a_page_websocket_to_a_refused_address_is_closed_unopened(guarded_page: Page) -> None:
    verdict = await guarded_page.evaluate(TRY_WEBSOCKET, "ws://169.254.169.254/socket")
    assert verdict == "closed 1008"


async def test_a_bot_refuses_a_meeting_page_the_policy_forbids(site: AsgiServer) -> None:
    strict = EgressPolicy(allow_private=False)
    adapter = BrowserAdapter(f"{site.url}/videoroom/1", testbed_web.VIDEOROOM, strict)
    with pytest.raises(JoinError) as refused:
        await adapter.join("bot", lambda _: None, MeetingRecord().audio_inputs)
    await adapter.leave()
    assert refused.value.sub_code == SubCode.MEETING_ADDRESS_REFUSED
