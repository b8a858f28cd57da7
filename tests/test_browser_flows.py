"""The browser join flow and roster reader against our fixture pages of Teams and Meet.

Real Chromium, real pages served from 127.0.0.1; the pages (tests/fixtures/browser/)
reproduce each site's screens with the selectors its profile expects and record
what the bot did. Nothing here reaches the real sites.
"""

import asyncio
import contextlib
import dataclasses
import functools
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from unmixed.chromium import launch_chromium
from unmixed.platforms.base import JoinError
from unmixed.platforms.browser import meet, teams
from unmixed.platforms.browser.flow import join_meeting, leave_meeting, wait_until_out
from unmixed.platforms.browser.profiles import PageProfile, RosterSpec
from unmixed.platforms.browser.roster import RosterEntry, parse_snapshot, roster_source
from unmixed.wire.status import SubCode

FIXTURES = Path(__file__).parent / "fixtures" / "browser"
BOT_NAME = "Notetaker"
SITES = {"teams": teams.PROFILE, "meet": meet.PROFILE}
CANNOT_JOIN = {
    "teams": SubCode.MICROSOFT_TEAMS_SIGN_IN_CREDENTIALS_MISSING,
    "meet": SubCode.GOOGLE_MEET_BOT_BLOCKED,
}

pytestmark = pytest.mark.timeout(60)


def roster_watcher(spec: RosterSpec) -> str:
    """The bot's roster observer alone, its snapshot function left on `window` to read."""
    config = json.dumps(dataclasses.asdict(spec))
    return f"{roster_source()}\nwindow.__roster = watchRoster({config}, () => {{}});"


async def read_roster(page: Page) -> list[RosterEntry]:
    return parse_snapshot(await page.evaluate("() => window.__roster()"))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fixture_server() -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(FIXTURES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(params=sorted(SITES))
def site(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def profile(site: str) -> PageProfile:
    return SITES[site]


class Opener:
    """Opens the site's fixture page with query options, roster observer installed."""

    def __init__(self, browser: Browser, base: str, site: str, profile: PageProfile) -> None:
        self._browser = browser
        self._base = base
        self._site = site
        self._profile = profile

    async def __call__(self, query: str = "") -> Page:
        context = await self._browser.new_context()
        await context.add_init_script(roster_watcher(self._profile.roster))
        page = await context.new_page()
        await page.goto(f"{self._base}/{self._site}.html?{query}")
        return page


@pytest.fixture
async def open_page(
    browser: Browser, fixture_server: str, site: str, profile: PageProfile
) -> AsyncIterator[Opener]:
    opener = Opener(browser, fixture_server, site, profile)
    yield opener
    for context in browser.contexts:
        await context.close()


class Lobby:
    """Counts `on_lobby` calls and lets a test wait for the first."""

    def __init__(self) -> None:
        self.calls = 0
        self.reached = asyncio.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.reached.set()


async def record(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("() => ({...window.fixture.record})")
    return result


async def join(page: Page, profile: PageProfile, lobby: Lobby | None = None) -> None:
    await join_meeting(page, profile.screens, BOT_NAME, on_lobby=lobby or Lobby())


async def test_straight_in_with_name_typed_and_microphone_off(
    open_page: Opener, profile: PageProfile
) -> None:
    page = await open_page()
    lobby = Lobby()
    await join(page, profile, lobby)
    assert lobby.calls == 0
    done = await record(page)
    assert done["name"] == BOT_NAME
    assert done["micOnAtJoin"] is False
    assert done["micClicks"] == 1
    assert done["joinClicks"] == 1


async def test_no_name_asked_and_microphone_already_off(
    open_page: Opener, profile: PageProfile
) -> None:
    page = await open_page("ask_name=0&mic=off")
    await join(page, profile)
    done = await record(page)
    assert done["name"] is None
    assert done["micOnAtJoin"] is False
    assert done["micClicks"] == 0


async def test_lobby_then_admitted_reports_the_lobby_once(
    open_page: Opener, profile: PageProfile
) -> None:
    page = await open_page("lobby=1")
    lobby = Lobby()
    joining = asyncio.create_task(join(page, profile, lobby))
    await lobby.reached.wait()
    await page.evaluate("() => window.fixture.admit()")
    await joining
    assert lobby.calls == 1


async def test_lobby_then_denied(open_page: Opener, profile: PageProfile) -> None:
    page = await open_page("lobby=1")
    lobby = Lobby()
    joining = asyncio.create_task(join(page, profile, lobby))
    await lobby.reached.wait()
    await page.evaluate("() => window.fixture.deny()")
    with pytest.raises(JoinError) as refused:
        await joining
    assert refused.value.sub_code == SubCode.BOT_KICKED_FROM_WAITING_ROOM


async def test_join_cancelled_in_the_lobby(open_page: Opener, profile: PageProfile) -> None:
    page = await open_page("lobby=1")
    lobby = Lobby()
    joining = asyncio.create_task(join(page, profile, lobby))
    await lobby.reached.wait()
    joining.cancel()
    with pytest.raises(asyncio.CancelledError):
        await joining
    await page.evaluate("() => window.fixture.admit()")  # the page still answers
    await leave_meeting(page, profile.screens)
    assert (await record(page))["leaveClicks"] == 1


@pytest.mark.parametrize(
    ("outcome", "sub_code"),
    [
        ("cannot_join", None),
        ("not_found", SubCode.MEETING_NOT_FOUND),
        ("ended", SubCode.MEETING_ENDED),
    ],
)
async def test_refused_before_the_pre_join_screen(
    open_page: Opener, profile: PageProfile, site: str, outcome: str, sub_code: str | None
) -> None:
    page = await open_page(f"outcome={outcome}")
    with pytest.raises(JoinError) as refused:
        await join(page, profile)
    assert refused.value.sub_code == (sub_code or CANNOT_JOIN[site])
    assert (await record(page))["joinClicks"] == 0


async def test_a_page_showing_nothing_known_gives_up(
    open_page: Opener, profile: PageProfile
) -> None:
    page = await open_page("outcome=blank")
    with pytest.raises(JoinError) as refused:
        await join_meeting(
            page, profile.screens, BOT_NAME, on_lobby=Lobby(), unknown_screen_timeout=0.3
        )
    assert refused.value.sub_code == SubCode.MEETING_JOIN_REFUSED
    assert "never showed a screen the bot knows" in str(refused.value)


@pytest.mark.parametrize(
    ("action", "sub_code"),
    [("remove", SubCode.BOT_KICKED_FROM_CALL), ("end", SubCode.CALL_ENDED_BY_HOST)],
)
async def test_out_of_the_call(
    open_page: Opener, profile: PageProfile, action: str, sub_code: str
) -> None:
    page = await open_page()
    await join(page, profile)
    watching = asyncio.create_task(wait_until_out(page, profile.screens))
    await page.evaluate("() => window.fixture.addParticipant({key: 'alice', name: 'Alice'})")
    assert not watching.done()
    await page.evaluate(f"() => window.fixture.{action}()")
    assert await watching == sub_code


async def test_a_closed_page_is_a_lost_connection(open_page: Opener, profile: PageProfile) -> None:
    page = await open_page()
    await join(page, profile)
    watching = asyncio.create_task(wait_until_out(page, profile.screens))
    await page.close()
    assert await watching == SubCode.MEETING_CONNECTION_LOST
    await leave_meeting(page, profile.screens)  # never raises, even now


async def test_a_crashed_page_is_a_lost_connection(open_page: Opener, profile: PageProfile) -> None:
    page = await open_page()
    await join(page, profile)
    watching = asyncio.create_task(wait_until_out(page, profile.screens))
    with contextlib.suppress(PlaywrightError):
        await page.goto("chrome://crash")
    assert await watching == SubCode.MEETING_CONNECTION_LOST


async def test_leave_clicks_the_leave_button(open_page: Opener, profile: PageProfile) -> None:
    page = await open_page()
    await join(page, profile)
    await leave_meeting(page, profile.screens)
    assert (await record(page))["leaveClicks"] == 1


async def test_roster_names_mute_speaking_and_source_without_the_bot(
    open_page: Opener, profile: PageProfile, site: str
) -> None:
    page = await open_page()
    await join(page, profile)
    await page.evaluate(
        """() => {
          window.fixture.addParticipant({key: 'alice', name: 'Alice', source: 1111});
          window.fixture.addParticipant({key: 'bob', name: 'Bob', muted: true, source: 2222});
        }"""
    )
    assert [(e.name, e.muted, e.speaking) for e in await read_roster(page)] == [
        ("Alice", False, False),
        ("Bob", True, False),
    ]
    await page.evaluate(
        """() => {
          window.fixture.setSpeaking('alice', true);
          window.fixture.setMuted('bob', false);
        }"""
    )
    entries = await read_roster(page)
    assert [entry.muted for entry in entries] == [False, False]
    if site == "teams":
        assert [entry.speaking for entry in entries] == [True, False]
        assert [entry.key for entry in entries] == [
            "participantsInCall-alice",
            "participantsInCall-bob",
        ]
    else:
        assert [entry.source for entry in entries] == ["1111", "2222"]
        assert entries[0] == RosterEntry(
            key="spaces/fixture/devices/alice",
            name="Alice",
            muted=False,
            speaking=False,
            host=False,
            source="1111",
        )
