"""No secret leaves: recognisable secrets are planted everywhere a user puts one, bots
fail in every way they can, and every log line, status message and error body is
searched for them."""

import asyncio
import json
import os
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.serve import ServeProcess
from tests.test_lifecycle import bot_process
from unmixed.client import AsyncUnmixedClient
from unmixed.net import free_port
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.bots import Bot
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

API_KEY = "PLANTED-api-key-7c1e"
DATABASE_PASSWORD = "PLANTED-db-password-51f2"
WRONG_KEY = "PLANTED-wrong-key-90ab"
PIN = "PLANTED-pin-3d4e"
ZOOM_PASSWORD = "PLANTED-zoom-pwd-a8b9"
ENDPOINT_TOKEN = "PLANTED-endpoint-token-c0d1"
ENDPOINT_PASSWORD = "PLANTED-endpoint-userinfo-e2f3"
SECRETS = [
    API_KEY,
    WRONG_KEY,
    PIN,
    ZOOM_PASSWORD,
    ENDPOINT_TOKEN,
    ENDPOINT_PASSWORD,
]

SPEAKER = Scenario.model_validate(
    {"participants": [{"name": "Speaker", "tone_hz": 440}], "duration": 60}
)


def leaky_endpoint() -> dict[str, object]:
    """A receiver that is never there, its URL full of credentials."""
    url = f"ws://user:{ENDPOINT_PASSWORD}@127.0.0.1:{free_port()}/audio?token={ENDPOINT_TOKEN}"
    return {"type": "websocket", "url": url, "events": ["audio_separate_raw.data"]}


def request(meeting_url: str) -> dict[str, object]:
    return {
        "meeting_url": meeting_url,
        "recording_config": {"audio_separate_raw": {}, "realtime_endpoints": [leaky_endpoint()]},
    }


async def finished(client: AsyncUnmixedClient, bot_id: str) -> Bot:
    return await client.wait_for_status(bot_id, set(FINAL_CODES), timeout=40)


async def test_no_secret_in_any_log_status_or_error(tmp_path: Path, janus: JanusServer) -> None:
    database = tmp_path / "unmixed.db"
    log_path = tmp_path / "api.log"
    environment = {
        "UNMIXED_DATA_DIR": str(tmp_path),
        "UNMIXED_API_KEY": API_KEY,
        "UNMIXED_TESTBED_ENABLED": "true",
    }
    answers: list[str] = []
    bots: list[Bot] = []
    async with (
        ServeProcess(environment, log_path) as api,
        AsyncUnmixedClient(api.url, API_KEY) as client,
        httpx.AsyncClient(base_url=api.url) as anonymous,
    ):

        async def attempt(meeting_url: str) -> str:
            bot = await client.create_bot(**request(meeting_url))
            return bot.id

        bot_ids = [
            await attempt(f"testbed://127.0.0.1:{free_port()}/1234?pin={PIN}"),
            await attempt(f"testbed://127.0.0.1:{janus.http_port}/99?pin={PIN}"),
            await attempt(f"https://zoom.us/j/85512345678?pwd={ZOOM_PASSWORD}"),
        ]
        async with TestbedMeeting(janus.url, SPEAKER, pin="the-right-pin") as locked:
            wrong_pin = locked.meeting_url.replace("the-right-pin", PIN)
            bot_ids.append(await attempt(wrong_pin))
            bots += [await finished(client, bot_id) for bot_id in bot_ids]

        async with TestbedMeeting(janus.url, SPEAKER) as meeting:
            asked_to_leave = await attempt(meeting.meeting_url + f"?pin={PIN}")
            killed = await attempt(meeting.meeting_url + f"?pin={PIN}")
            play = asyncio.create_task(meeting.play())
            for bot_id in (asked_to_leave, killed):
                await client.wait_for_status(bot_id, {StatusCode.IN_CALL_RECORDING}, timeout=30)
            left = await anonymous.post(
                f"/api/v1/bot/{asked_to_leave}/leave_call/", headers={"Authorization": API_KEY}
            )
            assert left.status_code == 200
            os.kill(bot_process(killed).pid, signal.SIGKILL)
            bots += [await finished(client, asked_to_leave), await finished(client, killed)]
            play.cancel()

        async with JanusServer() as doomed, TestbedMeeting(doomed.url, SPEAKER) as meeting:
            lost = await attempt(meeting.meeting_url + f"?pin={PIN}")
            play = asyncio.create_task(meeting.play())
            await client.wait_for_status(lost, {StatusCode.IN_CALL_RECORDING}, timeout=30)
            await doomed.kill()
            bots.append(await finished(client, lost))
            play.cancel()

        for authorization in (WRONG_KEY, f"Token {WRONG_KEY}", f"Bearer {WRONG_KEY}"):
            refused = await anonymous.get("/api/v1/bot/", headers={"Authorization": authorization})
            assert refused.status_code == 401
            answers.append(refused.text)
        bad = await anonymous.post(
            "/api/v1/bot/",
            headers={"Authorization": API_KEY},
            json=request(f"https://example.com/j/1?pwd={ZOOM_PASSWORD}"),
        )
        assert bad.status_code == 400
        answers.append(bad.text)

    with sqlite3.connect(database) as broken:
        broken.execute("DROP TABLE recordings")
    async with (
        ServeProcess(environment, log_path) as api,
        httpx.AsyncClient(base_url=api.url) as anonymous,
    ):
        failing = await anonymous.get("/api/v1/bot/", headers={"Authorization": API_KEY})
        assert failing.status_code == 500
        assert failing.json() == {
            "code": "internal_error",
            "detail": "the server failed to answer this request; it has been logged",
        }
        answers.append(failing.text)
        others = await anonymous.get("/openapi.json")
        assert others.status_code == 200, "one failing request hurt nobody else"

    sub_codes = [bot.status_changes[-1].sub_code for bot in bots]
    assert sub_codes == [
        SubCode.MEETING_UNREACHABLE,
        SubCode.MEETING_NOT_FOUND,
        SubCode.ZOOM_SDK_CREDENTIALS_MISSING,
        SubCode.MEETING_PASSWORD_INCORRECT,
        None,  # done, after leave_call
        SubCode.BOT_PROCESS_LOST,
        None,  # done, after the meeting's server vanished
    ]
    assert bots[-1].status_changes[-2].sub_code == SubCode.MEETING_CONNECTION_LOST
    messages = [change.message or "" for bot in bots for change in bot.status_changes]
    log = log_path.read_text()
    assert "realtime endpoint failed" in log or "receiver unreachable" in log, (
        "the leaky endpoint was tried, and logged"
    )
    assert log.count("request failed") == 1, "the 500 was logged once"
    assert "Exception in ASGI application" not in log, "and it went no further"
    assert "no such table: recordings" in log, "with its traceback"
    assert "│" not in log, "no rich rendering (it prints local variables)"
    for secret in SECRETS:
        for place, text in (("log", log), ("status messages", json.dumps(messages))):
            assert secret not in text, f"{secret} leaked into the {place}"
        for answer in answers:
            assert secret not in answer, f"{secret} leaked into an answer: {answer}"


async def test_a_database_password_stays_out_of_a_failed_start(tmp_path: Path) -> None:
    """SQLite takes no password, so the password is planted where it breaks the start:
    the error about the URL is logged, the password is not."""
    log_path = tmp_path / "api.log"
    database_url = f"sqlite://planted:{DATABASE_PASSWORD}@/{tmp_path}/unmixed.db"
    environment = {"UNMIXED_DATA_DIR": str(tmp_path), "UNMIXED_DATABASE_URL": database_url}
    with pytest.raises(RuntimeError, match="exited at start"):
        async with ServeProcess(environment, log_path):
            pass
    log = log_path.read_text()
    assert "Application startup failed" in log
    assert "planted" not in log, "the URL's userinfo is gone"
    assert DATABASE_PASSWORD not in log
