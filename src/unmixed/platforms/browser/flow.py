"""Getting a browser bot into a meeting and noticing when it is out, for any site.

The flow is a small state machine over what the page shows: one script in the
page names the first visible screen a site's `JoinScreens` describes, and
Playwright's `wait_for_function` wakes the flow when that answer changes (the
script reruns in the page ten times a second; Playwright offers no
mutation-driven polling, and the script reads only the own text of candidate
elements to stay cheap). On the pre-join screen the bot turns its
microphone off, types its name and asks to join; in the lobby it reports that it
waits; in the call it is done; every other screen ends the attempt with a
sub_code. Nothing here sleeps or polls from Python, so a caller can cancel the
join at any await (a waiting-room timeout, a leave request).
"""

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping

import structlog
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from unmixed.platforms.base import JoinError
from unmixed.platforms.browser.profiles import JoinScreens, Screen
from unmixed.wire.status import SubCode

log = structlog.get_logger(__name__)

UNKNOWN_SCREEN_TIMEOUT = 60.0
"""Seconds a page may show nothing the bot knows before the join is given up."""

LEAVE_CLICK_TIMEOUT_MS = 5_000

SCREEN_CHECK_MS = 100
"""How often the page checks which screen it shows. Every animation frame (the
default) would cost a share of a core for the whole call, spent watching for the
end of it; a tenth of a second is still quicker than any person notices."""

PRIORITY = (
    Screen.DENIED,
    Screen.REMOVED,
    Screen.ENDED,
    Screen.CANNOT_JOIN,
    Screen.NOT_FOUND,
    Screen.IN_CALL,
    Screen.LOBBY,
    Screen.PRE_JOIN,
)
"""The order screens are looked for in. Sites leave earlier screens in the DOM
(Meet keeps the lobby's text under its denial), and a denial is worded like a
plain refusal ("You can't join this call" above "...denied your request"), so the
most specific, most final screen wins."""

JOIN_SCREENS = frozenset(Screen)
OUT_SCREENS = frozenset({Screen.REMOVED, Screen.ENDED})

JOIN_ENDINGS: Mapping[Screen, str] = {
    Screen.DENIED: SubCode.BOT_KICKED_FROM_WAITING_ROOM,
    Screen.CANNOT_JOIN: SubCode.MEETING_JOIN_REFUSED,
    Screen.NOT_FOUND: SubCode.MEETING_NOT_FOUND,
    Screen.ENDED: SubCode.MEETING_ENDED,
    Screen.REMOVED: SubCode.BOT_KICKED_FROM_CALL,
}
"""What a final screen means before the bot is in, where the site names no code of its own."""

CALL_ENDINGS: Mapping[Screen, str] = {
    Screen.REMOVED: SubCode.BOT_KICKED_FROM_CALL,
    Screen.ENDED: SubCode.CALL_ENDED_BY_HOST,
}

JOIN_MESSAGES: Mapping[Screen, str] = {
    Screen.DENIED: "someone in the meeting refused to let the bot in",
    Screen.CANNOT_JOIN: "the site would not let the bot join this meeting",
    Screen.NOT_FOUND: "the site knows no meeting at this link",
    Screen.ENDED: "the meeting had already ended",
    Screen.REMOVED: "the bot was removed before it got in",
}

DETECT_SCREEN = """
([signs, current]) => {
  const ownText = (element) => {
    let text = '';
    for (const node of element.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) text += node.nodeValue;
    }
    return text;
  };
  for (const [screen, selector, pattern] of signs) {
    const wording = pattern ? new RegExp(pattern, 'i') : null;
    for (const element of document.querySelectorAll(selector)) {
      if (wording && !wording.test(ownText(element))) continue;
      if (!element.checkVisibility({visibilityProperty: true})) continue;
      return screen === current ? false : screen;
    }
  }
  return false;
}
"""
"""Names the first visible screen in `signs` (in priority order), or false while
that is still `current` or nothing is recognised: `wait_for_function` resolves on
the first truthy answer."""


async def join_meeting(
    page: Page,
    screens: JoinScreens,
    bot_name: str,
    *,
    on_lobby: Callable[[], None],
    unknown_screen_timeout: float = UNKNOWN_SCREEN_TIMEOUT,
) -> None:
    """Return once the bot is in the call, or raise `JoinError` saying why it is not.

    `on_lobby` is called once, the first time the bot waits to be let in. The
    wait in the lobby has no limit of its own: the caller cancels this on its
    waiting-room timeout. Anywhere else, a page that shows no new screen the bot
    knows for `unknown_screen_timeout` seconds fails the join.
    """
    current: Screen | None = None
    told_lobby = False
    while True:
        timeout = 0.0 if current is Screen.LOBBY else unknown_screen_timeout
        current = await _next_screen(page, screens, JOIN_SCREENS, current, timeout)
        log.info("the meeting page shows a screen", screen=current.value)
        if current is Screen.PRE_JOIN:
            await _ask_to_join(page, screens, bot_name)
        elif current is Screen.LOBBY:
            if not told_lobby:
                told_lobby = True
                on_lobby()
        elif current is Screen.IN_CALL:
            return
        else:
            sub_code = screens.endings.get(current, JOIN_ENDINGS[current])
            raise JoinError(sub_code, JOIN_MESSAGES[current])


async def wait_until_out(page: Page, screens: JoinScreens) -> str:
    """Once in the call: the sub_code the bot leaves with when the page shows it
    removed or the meeting ended, or when the page itself closes or crashes."""
    watch = asyncio.ensure_future(_next_screen(page, screens, OUT_SCREENS, None, 0.0))
    lost = False

    def on_lost(_: object) -> None:
        nonlocal lost
        lost = True
        watch.cancel()

    page.on("close", on_lost)
    page.on("crash", on_lost)
    try:
        screen = await watch
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not lost or (current is not None and current.cancelling()):
            raise  # the caller's, not ours
        return SubCode.MEETING_CONNECTION_LOST
    except PlaywrightError:
        if not (lost or page.is_closed()):
            raise
        return SubCode.MEETING_CONNECTION_LOST
    finally:
        watch.cancel()
        page.remove_listener("close", on_lost)
        page.remove_listener("crash", on_lost)
    return screens.endings.get(screen, CALL_ENDINGS[screen])


async def leave_meeting(page: Page, screens: JoinScreens) -> None:
    """Click the site's leave button if it shows one; never raises, since closing
    the page leaves the meeting anyway."""
    if screens.leave_button is None or page.is_closed():
        return
    with contextlib.suppress(PlaywrightError):
        button = page.locator(screens.leave_button).filter(visible=True)
        if await button.count():
            await button.first.click(timeout=LEAVE_CLICK_TIMEOUT_MS)


async def _next_screen(
    page: Page,
    screens: JoinScreens,
    among: Collection[Screen],
    current: Screen | None,
    timeout: float,
) -> Screen:
    """Wait until the page shows one of `among` other than `current` (0: no limit)."""
    signs = [
        [screen.value, screens.shown_by[screen], screens.shown_text.get(screen)]
        for screen in PRIORITY
        if screen in among and screen in screens.shown_by
    ]
    current_value = None if current is None else current.value
    try:
        handle = await page.wait_for_function(
            DETECT_SCREEN,
            arg=[signs, current_value],
            timeout=timeout * 1000,
            polling=SCREEN_CHECK_MS,
        )
    except PlaywrightTimeoutError:
        if current is None:
            message = "the page never showed a screen the bot knows"
        else:
            message = f"the page showed no screen the bot knows after its {current.value} screen"
        raise JoinError(SubCode.MEETING_JOIN_REFUSED, message) from None
    return Screen(await handle.json_value())


async def _ask_to_join(page: Page, screens: JoinScreens, bot_name: str) -> None:
    """Microphone off (so nothing the bot's fake device plays reaches the meeting),
    name typed, join clicked."""
    if screens.microphone_off is not None:
        switch = page.locator(screens.microphone_off).filter(visible=True)
        if await switch.count():
            await switch.first.click()
            await page.locator(screens.microphone_off).first.wait_for(state="hidden")
    if screens.name_input is not None:
        field = page.locator(screens.name_input).filter(visible=True)
        if await field.count():
            await field.first.fill(bot_name)
    await page.locator(screens.join_button).filter(visible=True).first.click()
