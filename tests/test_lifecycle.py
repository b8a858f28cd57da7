"""A bot's life as the API reports it: asked to leave, killed, scheduled and called off."""

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import httpx
import psutil

from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

ONE_SPEAKER = Scenario.model_validate(
    {"participants": [{"name": "Solo", "tone_hz": 500}], "duration": 30}
)


def bot_process(bot_id: str) -> psutil.Process:
    for child in psutil.Process().children(recursive=True):
        if bot_id in child.cmdline():
            return child
    raise LookupError(f"no process for bot {bot_id}")


async def recording_bot(client: AsyncUnmixedClient, meeting_url: str) -> str:
    bot = await client.create_bot(
        meeting_url=meeting_url, recording_config={"audio_separate_raw": {}}
    )
    await client.wait_for_status(bot.id, {StatusCode.IN_CALL_RECORDING}, timeout=30)
    return bot.id


async def test_leave_call_makes_the_bot_leave_within_two_seconds(
    client: AsyncUnmixedClient, janus: JanusServer, api: ApiServer, api_key: str
) -> None:
    async with TestbedMeeting(janus.url, ONE_SPEAKER) as meeting:
        bot_id = await recording_bot(client, meeting.meeting_url)
        asked = time.time()
        async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": api_key}) as http:
            response = await http.post(f"/api/v1/bot/{bot_id}/leave_call/")
        assert response.status_code == 200
        bot = await client.wait_for_status(bot_id, set(FINAL_CODES), timeout=15)
        *_, left, done = bot.status_changes
        assert (left.code, left.sub_code) == (
            StatusCode.CALL_ENDED,
            SubCode.BOT_RECEIVED_LEAVE_CALL,
        )
        assert left.created_at.timestamp() - asked < 2.0
        assert done.code == StatusCode.DONE
        async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": api_key}) as http:
            again = await http.post(f"/api/v1/bot/{bot_id}/leave_call/")
        assert again.status_code == 400
        assert again.json()["code"] == "cannot_command_completed_bot"


async def test_a_killed_bot_process_ends_fatal_and_the_api_lives_on(
    client: AsyncUnmixedClient, janus: JanusServer
) -> None:
    async with TestbedMeeting(janus.url, ONE_SPEAKER) as meeting:
        bot_id = await recording_bot(client, meeting.meeting_url)
        os.kill(bot_process(bot_id).pid, signal.SIGKILL)
        bot = await client.wait_for_status(bot_id, set(FINAL_CODES), timeout=15)
    assert bot.status_changes[-1].code == StatusCode.FATAL
    assert bot.status_changes[-1].sub_code == SubCode.BOT_PROCESS_LOST
    assert bot.recordings[0].status.code == "failed"
    later = datetime.now(UTC) + timedelta(minutes=5)
    another = await client.create_bot(
        meeting_url="testbed://127.0.0.1:9/1", join_at=later.isoformat(), recording_config={}
    )
    assert another.status_changes[-1].code == StatusCode.READY, "the API lives on"


async def test_a_killed_browser_bot_leaves_no_chromium_behind(
    client: AsyncUnmixedClient, janus: JanusServer
) -> None:
    async with TestbedMeeting(janus.url, ONE_SPEAKER) as meeting:
        bot_id = await recording_bot(client, meeting.web_meeting_url)
        bot = bot_process(bot_id)
        tree = bot.children(recursive=True)
        assert any("chromium" in process.name() for process in tree)
        bot.kill()
        _, alive = await asyncio.to_thread(psutil.wait_procs, tree, timeout=10)
        assert alive == [], "Playwright's driver and Chromium go with the bot"
        ended = await client.wait_for_status(bot_id, set(FINAL_CODES), timeout=15)
    assert ended.status_changes[-1].sub_code == SubCode.BOT_PROCESS_LOST


async def test_a_scheduled_bot_can_be_called_off_before_it_joins(
    client: AsyncUnmixedClient, api: ApiServer, api_key: str
) -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)
    bot = await client.create_bot(
        meeting_url="testbed://127.0.0.1:9/1", join_at=later.isoformat(), recording_config={}
    )
    assert bot.join_at is not None
    assert abs((bot.join_at - later).total_seconds()) < 0.001
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": api_key}) as http:
        assert (await http.post(f"/api/v1/bot/{bot.id}/leave_call")).status_code == 200
    bot = await client.get_bot(bot.id)
    assert [c.code for c in bot.status_changes] == ["ready", "call_ended", "done"]
    assert bot.status_changes[1].sub_code == SubCode.BOT_RECEIVED_LEAVE_CALL
