"""The testbed's web meeting, as a person sees it: a real page in a real Chromium,
in a VideoRoom with a browser participant and an AudioBridge with native ones."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from playwright.async_api import Page

from tests.test_cli import first_line, start_testbed
from unmixed.chromium import launch_chromium
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer

WAIT_MS = 20_000

COUNT_PEER_CONNECTIONS = """
window.__peers = [];
const Original = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const peer = new Original(...args);
  window.__peers.push(peer);
  return peer;
};
window.RTCPeerConnection.prototype = Original.prototype;
"""
"""Wraps the constructor before the page runs, as the browser bot does."""

PACKETS_BY_MID = """async () => {
  const packets = {};
  for (const peer of window.__peers) {
    const stats = await peer.getStats();
    stats.forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'audio') {
        packets[report.mid] = report.packetsReceived;
      }
    });
  }
  return packets;
}"""


def roster_shows(names_and_classes: dict[str, str]) -> str:
    """A predicate: each name has an entry that matches its selector suffix."""
    checks = " && ".join(
        f"[...document.querySelectorAll('#roster li.participant{selector}')]"
        f".some((li) => li.querySelector('.name').textContent === {name!r})"
        for name, selector in names_and_classes.items()
    )
    return f"() => {checks}"


@asynccontextmanager
async def listener(url: str) -> AsyncIterator[Page]:
    """Someone who joins the web meeting without a microphone, to watch and listen."""
    async with launch_chromium(loopback_ice=True) as browser:
        page = await (await browser.new_context()).new_page()
        await page.add_init_script(COUNT_PEER_CONNECTIONS)
        await page.goto(url)
        await page.fill("#name", "Listener")
        await page.click("#mic-off")
        await page.click("#join")
        await page.wait_for_selector("#call", state="visible", timeout=WAIT_MS)
        assert await page.is_hidden("#prejoin")
        yield page


async def test_a_browser_participant_and_a_native_one_are_heard_on_the_page(
    janus: JanusServer,
) -> None:
    scenario = Scenario.model_validate(
        {
            "participants": [
                {"name": "Ann", "client": "browser", "tone_hz": 440},
                {"name": "Bob", "tone_hz": 1000, "is_host": True},
            ],
            "duration": 15,
        }
    )
    async with TestbedMeeting(janus.url, scenario) as meeting:
        assert meeting.address is not None
        assert meeting.web_meeting_url.endswith(f"/videoroom/{meeting.address.room}")
        play = asyncio.create_task(meeting.play())
        async with listener(meeting.web_meeting_url) as page:
            await page.wait_for_function(
                roster_shows({"Ann": "[data-mid]", "Bob": ".host[data-mid]", "Listener": ".self"}),
                timeout=WAIT_MS,
            )
            entries = await page.eval_on_selector_all(
                "#roster li.participant:not(.self)",
                "items => items.map(li => [li.dataset.key, li.dataset.mid])",
            )
            feeds = {str(p.feed_id) for p in meeting.participants.values()}
            assert {key for key, _ in entries} == feeds
            mids = sorted(mid for _, mid in entries)
            assert len(set(mids)) == 2
            before = await page.evaluate(PACKETS_BY_MID)
            growing = f"""async () => {{
                const before = {before!r};
                const now = await ({PACKETS_BY_MID})();
                return {mids!r}.every((mid) => (now[mid] || 0) >= (before[mid] || 0) + 50);
            }}"""
            await page.wait_for_function(growing, timeout=WAIT_MS)
            # The page plays each participant's audio, like a meeting client (an element
            # may be swapped while the subscription is renegotiated: wait, do not sample).
            await page.wait_for_function(
                "() => [...document.querySelectorAll('#speakers audio')]"
                ".filter((a) => !a.paused).length === 2",
                timeout=WAIT_MS,
            )
            ann = meeting.participants["Ann"]
            assert ann.log.joined_at is not None
            assert ann.log.published_at is not None
        play.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await play


async def test_an_audiobridge_roster_shows_who_speaks_and_who_is_muted(
    janus: JanusServer,
) -> None:
    scenario = Scenario.model_validate(
        {
            "room": "audiobridge",
            "participants": [
                {"name": "Talker", "tone_hz": 440, "muted": [[4, 6]]},
                {"name": "Quiet", "tone_hz": 880, "muted": [[0, 60]]},
            ],
            "duration": 9,
        }
    )
    async with TestbedMeeting(janus.url, scenario) as meeting:
        assert "/audiobridge/" in meeting.web_meeting_url
        async with listener(meeting.web_meeting_url) as page:
            play = asyncio.create_task(meeting.play())
            await page.wait_for_function(
                roster_shows({"Talker": ".speaking:not(.muted)", "Quiet": ".muted:not(.speaking)"}),
                timeout=WAIT_MS,
            )
            talker = meeting.participants["Talker"]
            assert talker.log.published_at is not None
            print(f"publish to speaking on the page: {time.time() - talker.log.published_at:.3f} s")
            await page.wait_for_function(
                roster_shows({"Talker": ".muted:not(.speaking)"}), timeout=WAIT_MS
            )
            await page.wait_for_function(
                roster_shows({"Talker": ".speaking:not(.muted)"}), timeout=WAIT_MS
            )
            seen = time.time()
            print(f"unmute to speaking on the page: {seen - talker.log.unmutes[-1]:.3f} s")
            await play


async def test_the_testbed_command_prints_the_web_meeting_url(tmp_path: Path) -> None:
    process = await start_testbed(
        {"room": "audiobridge", "participants": [{"name": "Ann", "tone_hz": 440}], "duration": 3},
        tmp_path,
    )
    announced = await first_line(process)
    assert announced["meeting_url"] is None
    assert "/audiobridge/" in announced["web_meeting_url"]
    async with httpx.AsyncClient() as http:
        page = await http.get(announced["web_meeting_url"])
        assert page.status_code == 200
        assert '<script src="/assets/janus.js">' in page.text
        janus_js = await http.get(str(page.url.join("/assets/janus.js")))
        assert janus_js.status_code == 200
        assert "Janus.init" in janus_js.text
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0
