"""The browser bot: a real Chromium in a meeting's web client, every remote voice tapped.

Chromium runs headless inside the bot's process tree. Before the site's own
scripts run, two scripts are installed in every frame: the capture script,
which taps each remote audio track and sends its PCM to the bot's local
websocket, and the roster observer, which reports the participant list. The
join flow walks the site's screens; the site's resolver turns tracks and
roster into the events every adapter emits.

Every request and websocket of the page goes through the egress policy, like
any other connection of the bot's (`page_egress.py` says what that cannot see).
"""

import asyncio
import contextlib
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

import structlog
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from unmixed.chromium import ChromiumMissing, launch_chromium
from unmixed.egress import EgressPolicy, EgressRefused
from unmixed.platforms.base import (
    JoinError,
    MeetingAdapter,
    MeetingEnded,
    RecordingPermission,
    WaitingRoom,
)
from unmixed.platforms.browser.capture import PageFailed, PageSignal, RosterChanged, page_script
from unmixed.platforms.browser.channel import CaptureChannel
from unmixed.platforms.browser.flow import join_meeting, leave_meeting, wait_until_out
from unmixed.platforms.browser.page_egress import PageEgress
from unmixed.platforms.browser.profiles import PageProfile
from unmixed.platforms.browser.resolvers import RESOLVERS, Resolver
from unmixed.wire.realtime import ParticipantPlatform
from unmixed.wire.status import SubCode

NAVIGATION_TIMEOUT_MS = 30_000
LEAVE_SECONDS = 3.0
"""How long the bot tries to leave politely before it just closes the browser."""

log = structlog.get_logger(__name__)


class BrowserAdapter(MeetingAdapter):
    """A bot in a meeting's web client: `profile` says how the site looks and how
    its audio relates to people; everything else is the same for every site."""

    def __init__(
        self,
        meeting_url: str,
        profile: PageProfile,
        egress: EgressPolicy,
        *,
        participant_platform: ParticipantPlatform | None = "unknown",
    ) -> None:
        super().__init__()
        self._url = meeting_url
        self._profile = profile
        self._egress = egress
        self._resolver: Resolver = RESOLVERS[profile.attribution](
            self._emit, self._push_audio, participant_platform
        )
        self._resources = AsyncExitStack()
        self._page: Page | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def _join(self, bot_name: str) -> None:
        await self._check_address(self._url)
        try:
            self._page = await self._open_page()
        except ChromiumMissing as error:
            raise JoinError(SubCode.PLATFORM_NOT_SUPPORTED, str(error)) from error
        try:
            await self._page.goto(self._url, timeout=NAVIGATION_TIMEOUT_MS)
        except PlaywrightError as error:
            log.warning("the meeting page did not load", host=urlsplit(self._url).hostname)
            raise JoinError(
                SubCode.MEETING_UNREACHABLE, "the meeting's web page did not load"
            ) from error
        try:
            await join_meeting(
                self._page,
                self._profile.screens,
                bot_name,
                on_lobby=lambda: self._emit(WaitingRoom()),
            )
        except PlaywrightError as error:
            log.warning("the meeting page failed while joining", why=type(error).__name__)
            raise JoinError(
                SubCode.MEETING_CONNECTION_LOST, "the meeting's page failed while the bot joined"
            ) from error
        self._emit(RecordingPermission(granted=True))
        self._watcher = asyncio.create_task(self._watch(self._page), name="page-watcher")

    async def _check_address(self, url: str) -> None:
        try:
            await self._egress.resolve(url)
        except EgressRefused as error:
            raise JoinError(
                SubCode.MEETING_ADDRESS_REFUSED,
                "this server's egress policy does not let bots connect to the meeting's address",
            ) from error
        except OSError as error:
            raise JoinError(
                SubCode.MEETING_UNREACHABLE, "the meeting's host name does not resolve"
            ) from error

    async def _open_page(self) -> Page:
        channel = CaptureChannel(self._resolver.on_batch, self._on_signal)
        await self._resources.enter_async_context(channel)
        loopback = urlsplit(self._url).hostname in ("127.0.0.1", "localhost", "::1")
        browser = await self._resources.enter_async_context(launch_chromium(loopback_ice=loopback))
        context = await browser.new_context(bypass_csp=True, service_workers="block")
        await context.add_init_script(page_script(channel.url, self._profile.roster))
        await PageEgress(self._egress, exempt=channel.is_own).install(context)
        return await context.new_page()

    def _on_signal(self, signal: PageSignal) -> None:
        match signal:
            case RosterChanged():
                self._resolver.on_roster(signal)
            case PageFailed(message, track):
                log.warning("the capture script reported a failure", track=track, why=message)
            case _:
                self._resolver.on_track(signal)

    async def _watch(self, page: Page) -> None:
        """Until the page says the bot is out (or the page dies): then the meeting ended."""
        try:
            sub_code = await wait_until_out(page, self._profile.screens)
        except PlaywrightError:
            log.warning("lost the meeting page", exc_info=True)
            sub_code = SubCode.MEETING_CONNECTION_LOST
        self._emit(MeetingEnded(sub_code))

    async def leave(self) -> None:
        """Leave through the page if it still answers, then close Chromium; never raises."""
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        if self._page is not None and not self._page.is_closed():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LEAVE_SECONDS):
                    await leave_meeting(self._page, self._profile.screens)
        try:
            await self._resources.aclose()
        except Exception:
            log.exception("the browser did not close cleanly")
