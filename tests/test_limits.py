"""Limits with the defaults a fresh server has: rates per key, the body cap, bot slots,
and keys that are checked before anything else and can be revoked."""

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.test_api import bot_request
from tests.test_lifecycle import bot_process
from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.settings import Settings
from unmixed.store import ApiKeys, open_database
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import FINAL_CODES, StatusCode

ENVIRONMENT_KEY = "environment-key-for-limits"


def scheduled(**changes: object) -> dict[str, object]:
    """A bot that starts nothing for a day: creating it costs no process."""
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    return bot_request(join_at=tomorrow.isoformat(), **changes)


@pytest.fixture(scope="module")
async def fresh_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiServer]:
    """A server with every default limit, and room for one bot."""
    data_dir = tmp_path_factory.mktemp("limits")
    settings = Settings(
        data_dir=data_dir,
        api_key=SecretStr(ENVIRONMENT_KEY),
        testbed_enabled=True,
        bot_slots=1,
    )
    async with ApiServer(settings) as server:
        yield server


def new_key(api: ApiServer) -> str:
    return ApiKeys(open_database(api_database(api))).create("limits")


def api_database(api: ApiServer) -> str:
    return api.settings.resolved_database_url()


async def test_creates_past_60_a_minute_get_429_with_retry_after(fresh_api: ApiServer) -> None:
    key, other_key = new_key(fresh_api), new_key(fresh_api)
    async with httpx.AsyncClient(base_url=fresh_api.url, headers={"Authorization": key}) as http:
        answers = await asyncio.gather(
            *(http.post("/api/v1/bot/", json=scheduled()) for _ in range(61))
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [201] * 60 + [429]
        (limited,) = [answer for answer in answers if answer.status_code == 429]
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert (await http.get("/api/v1/bot/")).json()["count"] == 60, "the 429 stored nothing"
    async with httpx.AsyncClient(
        base_url=fresh_api.url, headers={"Authorization": other_key}
    ) as http:
        assert (await http.post("/api/v1/bot/", json=scheduled())).status_code == 201


async def test_lists_past_60_and_reads_past_300_a_minute_get_429(fresh_api: ApiServer) -> None:
    key = new_key(fresh_api)
    async with httpx.AsyncClient(base_url=fresh_api.url, headers={"Authorization": key}) as http:
        lists = [(await http.get("/api/v1/bot/")).status_code for _ in range(61)]
        assert lists == [200] * 60 + [429]
        unknown = "/api/v1/bot/00000000-0000-0000-0000-000000000000/"
        reads = [(await http.get(unknown)).status_code for _ in range(301)]
        assert reads == [404] * 300 + [429]


async def test_a_body_over_the_cap_is_413_and_stores_nothing(fresh_api: ApiServer) -> None:
    key = new_key(fresh_api)
    async with httpx.AsyncClient(base_url=fresh_api.url, headers={"Authorization": key}) as http:
        huge = scheduled(metadata={"k": "v" * (50 * 2**20)})
        response = await http.post("/api/v1/bot/", json=huge)
        assert response.status_code == 413
        assert response.json()["code"] == "body_too_large"
        assert (await http.get("/api/v1/bot/")).json()["count"] == 0


async def test_the_key_is_checked_before_the_body_is_read(fresh_api: ApiServer) -> None:
    """A request that announces 50 MB and sends none of it is answered at once."""
    reader, writer = await asyncio.open_connection("127.0.0.1", fresh_api.port)
    writer.write(
        b"POST /api/v1/bot/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 52428800\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    assert status_line.split()[1] == b"401"


async def test_no_free_slot_is_507_and_starts_nothing(
    fresh_api: ApiServer, janus: JanusServer
) -> None:
    key = new_key(fresh_api)
    speaker = Scenario.model_validate(
        {"participants": [{"name": "Solo", "tone_hz": 500}], "duration": 60}
    )
    async with (
        TestbedMeeting(janus.url, speaker) as meeting,
        httpx.AsyncClient(base_url=fresh_api.url, headers={"Authorization": key}) as http,
        AsyncUnmixedClient(fresh_api.url, key) as client,
    ):
        request = bot_request(meeting_url=meeting.meeting_url)
        first = await http.post("/api/v1/bot/", json=request)
        assert first.status_code == 201
        bot_id = first.json()["id"]
        await client.wait_for_status(bot_id, {StatusCode.IN_CALL_RECORDING}, timeout=30)
        refused = await http.post("/api/v1/bot/", json=request)
        assert refused.status_code == 507
        assert refused.json()["code"] == "no_free_bot_slot"
        assert refused.headers["Retry-After"] == "30"
        assert (await http.get("/api/v1/bot/")).json()["count"] == 1, "nothing was stored"
        assert (await http.post("/api/v1/bot/", json=scheduled())).status_code == 201, (
            "a bot scheduled a day ahead needs no slot now"
        )
        soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        near = await http.post("/api/v1/bot/", json={**request, "join_at": soon})
        assert near.status_code == 507, "a join_at a minute ahead is no way around the slots"
        process = bot_process(bot_id)
        assert (await http.post(f"/api/v1/bot/{bot_id}/leave_call/")).status_code == 200
        await client.wait_for_status(bot_id, set(FINAL_CODES), timeout=30)
        await asyncio.to_thread(process.wait, 15)
        for _ in range(50):  # the API notices the exit a moment after the process is gone
            again = await http.post("/api/v1/bot/", json=request)
            if again.status_code != 507:
                break
            await asyncio.sleep(0.1)
        assert again.status_code == 201, "the slot was given back when the first bot ended"
        await http.post(f"/api/v1/bot/{again.json()['id']}/leave_call/")


def unmixed_command(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unmixed.cli", *arguments],
        env={"UNMIXED_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


async def test_keys_list_and_revoke(fresh_api: ApiServer) -> None:
    data_dir = fresh_api.settings.data_dir
    created = unmixed_command(data_dir, "keys", "create", "--label", "to revoke")
    key = created.stdout.strip()
    async with httpx.AsyncClient(base_url=fresh_api.url, headers={"Authorization": key}) as http:
        assert (await http.get("/api/v1/bot/")).status_code == 200
        listed = unmixed_command(data_dir, "keys", "list")
        assert "to revoke" in listed.stdout
        assert key not in listed.stdout
        key_id = next(line.split()[1] for line in listed.stdout.splitlines() if "to revoke" in line)
        revoked = unmixed_command(data_dir, "keys", "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        response = await http.get("/api/v1/bot/")
    assert response.status_code == 401
    assert unmixed_command(data_dir, "keys", "revoke", "999999").returncode == 1


async def test_the_environment_key_is_never_stored(fresh_api: ApiServer) -> None:
    async with httpx.AsyncClient(
        base_url=fresh_api.url, headers={"Authorization": ENVIRONMENT_KEY}
    ) as http:
        assert (await http.post("/api/v1/bot/", json=scheduled())).status_code == 201
    with sqlite3.connect(fresh_api.settings.data_dir / "unmixed.db") as database:
        labels = [label for (label,) in database.execute("SELECT label FROM api_keys")]
    assert "UNMIXED_API_KEY" not in labels
    without = fresh_api.settings.model_copy(update={"api_key": None})
    async with (
        ApiServer(without) as restarted,
        httpx.AsyncClient(
            base_url=restarted.url, headers={"Authorization": ENVIRONMENT_KEY}
        ) as http,
    ):
        assert (await http.get("/api/v1/bot/")).status_code == 401


@pytest.mark.parametrize(
    ("settings", "expected_base"),
    [
        ({"public_url": "https://bots.example.com/"}, "https://bots.example.com"),
        ({"trust_proxy_headers": True}, "https://proxy.example"),
    ],
)
async def test_page_links_from_configuration(
    tmp_path: Path, settings: dict[str, object], expected_base: str
) -> None:
    configured = Settings(
        data_dir=tmp_path, api_key=SecretStr(ENVIRONMENT_KEY), testbed_enabled=True, **settings
    )
    async with (
        ApiServer(configured) as api,
        httpx.AsyncClient(base_url=api.url, headers={"Authorization": ENVIRONMENT_KEY}) as http,
    ):
        for _ in range(51):
            assert (await http.post("/api/v1/bot/", json=scheduled())).status_code == 201
        page = await http.get(
            "/api/v1/bot/",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "proxy.example"},
        )
    assert page.json()["next"] == f"{expected_base}/api/v1/bot/?page=2"
