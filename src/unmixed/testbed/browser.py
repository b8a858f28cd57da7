"""A browser participant: a person in the web meeting through a real Chromium.

It does what a person does: opens the meeting link, types a name, clicks join,
and the page publishes the fake microphone. The testbed then mutes it through
the room, as for a native participant, with the id the page exposes.
"""

import contextlib
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Protocol

import numpy as np
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from unmixed.chromium import launch_chromium, write_microphone
from unmixed.testbed.participant import Participant
from unmixed.testbed.room import Display

JOIN_TIMEOUT_MS = 15_000
LEAVE_TIMEOUT_MS = 2_000
CONNECTED = "() => window.unmixedMeeting && window.unmixedMeeting.connected === true"


class Moderator(Protocol):
    """Mutes someone for the whole room, as its host (VideoRoom `moderate`, AudioBridge `mute`)."""

    async def __call__(self, feed: int, *, muted: bool) -> None: ...


class BrowserParticipant(Participant):
    """One Chromium per participant, opened by `prepare` so that joining is only the clicks."""

    def __init__(
        self, page_url: str, display: Display, microphone: np.ndarray, moderator: Moderator
    ) -> None:
        super().__init__(display)
        self.page_url = page_url
        self._microphone = microphone
        self._moderator = moderator
        self._stack: AsyncExitStack | None = None
        self._page: Page | None = None

    async def prepare(self) -> None:
        """Start Chromium and open the page, before the timeline: launching takes a second."""
        stack = AsyncExitStack()
        try:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="unmixed-mic-")))
            wav = write_microphone(folder / "microphone.wav", self._microphone)
            browser = await stack.enter_async_context(
                launch_chromium(microphone=wav, loopback_ice=True)
            )
            self._page = await (await browser.new_context()).new_page()
            await self._page.goto(self.page_url)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def join(self) -> None:
        page = self._require_page()
        await page.fill("#name", self.display.name)
        await page.click("#join")
        await page.wait_for_selector("#call", state="visible", timeout=JOIN_TIMEOUT_MS)
        self.feed_id = int(await page.evaluate("window.unmixedMeeting.feedId"))
        self.log.joined_at = time.time()

    async def publish(self, *, muted: bool = False) -> None:
        """The page publishes by itself once in; wait until its microphone is connected.

        Unlike a native participant, one who starts muted is muted only then: the
        room may hear the first moments of their microphone."""
        await self._require_page().wait_for_function(CONNECTED, timeout=JOIN_TIMEOUT_MS)
        if muted:
            await self.mute()
        self._log_published(muted=muted)

    async def _set_muted(self, muted: bool) -> None:
        if self.feed_id is None:
            raise RuntimeError(f"{self.display.name} has not joined")
        await self._moderator(self.feed_id, muted=muted)

    async def leave(self) -> None:
        """Click leave if in the call, then close the browser; safe to call twice."""
        stack, self._stack = self._stack, None
        page, self._page = self._page, None
        if page is not None and self.feed_id is not None:
            self.log.left_at = time.time()
            with contextlib.suppress(PlaywrightError):
                if await page.is_visible("#call"):
                    await page.click("#leave", timeout=LEAVE_TIMEOUT_MS)
        if stack is not None:
            await stack.aclose()

    def _require_page(self) -> Page:
        if self._page is None:
            raise RuntimeError(f"{self.display.name}'s browser is not open")
        return self._page
