"""Changing and deleting a bot before it is dispatched, and `Idempotency-Key`, as a
Recall client sees them through the real API, its dispatcher and its database."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil
import pytest

from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.net import free_port
from unmixed.store import ENVIRONMENT_KEY, open_database
from unmixed.store.idempotency import IdempotencyKeys, IdempotentRequest
from unmixed.wire.status import FINAL_CODES, StatusCode

BOTS = "/api/v1/bot/"


def moment(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def scheduled(seconds: float = 1800, **changes: Any) -> dict[str, Any]:
    """A bot for a meeting nobody hosts: if it ever starts, it ends `fatal` at once."""
    return {
        "meeting_url": f"testbed://127.0.0.1:{free_port()}/1",
        "join_at": moment(seconds),
        "recording_config": {},
        **changes,
    }


def codes(bot: dict[str, Any]) -> list[str]:
    return [change["code"] for change in bot["status_changes"]]


@pytest.fixture
async def http(api: ApiServer, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Token {api_key}"}
    ) as client:
        yield client


async def create(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(BOTS, json=body)
    assert response.status_code == 201, response.text
    bot: dict[str, Any] = response.json()
    return bot


@contextmanager
def started_bots() -> Iterator[set[str]]:
    """Every bot id a bot process was started for while the block runs (a process
    lives at least the few hundred milliseconds Python takes to start)."""
    seen: set[str] = set()

    async def watch() -> None:
        while True:
            for process in psutil.Process().children(recursive=True):
                try:
                    command = process.cmdline()
                except psutil.Error:
                    continue
                if "unmixed.bots.runner" in command:
                    seen.add(command[-1])
            await asyncio.sleep(0.05)

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        yield seen
    finally:
        watcher.cancel()


async def test_a_scheduled_bot_changes_until_it_is_dispatched(http: httpx.AsyncClient) -> None:
    endpoint = {
        "type": "websocket",
        "url": "ws://127.0.0.1:9/a",
        "events": ["audio_separate_raw.data"],
    }
    bot = await create(
        http,
        scheduled(
            metadata={"customer": "acme"},
            recording_config={"audio_separate_raw": {}, "realtime_endpoints": [endpoint]},
        ),
    )
    path = f"{BOTS}{bot['id']}/"
    response = await http.patch(path, json={"bot_name": "Renamed", "metadata": {"customer": "b"}})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["bot_name"], changed["metadata"]) == ("Renamed", {"customer": "b"})
    assert changed["recording_config"] == bot["recording_config"], "ids kept when unchanged"
    assert changed["join_at"] == bot["join_at"]
    assert (await http.get(path)).json() == changed

    response = await http.patch(path, json={"recording_config": {"audio_separate_raw": {}}})
    config = response.json()["recording_config"]
    assert config["audio_separate_raw"]["id"] != bot["recording_config"]["audio_separate_raw"]["id"]
    assert config["realtime_endpoints"] == []

    for body, field in [
        ({"meeting_url": None}, "meeting_url"),
        ({"meeting_url": "https://example.com/x"}, "meeting_url"),
        ({"join_at": moment(400 * 86400)}, "join_at"),
        (
            {
                "recording_config": {
                    "audio_separate_raw": {},
                    "realtime_endpoints": [endpoint | {"url": "https://example.com/hook"}],
                }
            },
            "recording_config.realtime_endpoints[0].url",
        ),
        ({"colour": "red"}, "colour"),
    ]:
        refused = await http.patch(path, json=body)
        assert (refused.status_code, refused.json()["field"]) == (400, field), body
    assert (await http.get(path)).json()["bot_name"] == "Renamed"

    other = "00000000-0000-0000-0000-000000000000"
    for method in ("PATCH", "DELETE"):
        missing = await http.request(method, f"{BOTS}{other}/", json={"bot_name": "x"})
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_a_moved_join_at_is_when_the_bot_joins(
    http: httpx.AsyncClient, client: AsyncUnmixedClient
) -> None:
    later = await create(http, scheduled(2.0))
    sooner = await create(http, scheduled())
    new_time = datetime.now(UTC) + timedelta(seconds=4)
    moved_away = await http.patch(f"{BOTS}{later['id']}/", json={"join_at": moment(1800)})
    moved_up = await http.patch(f"{BOTS}{sooner['id']}/", json={"join_at": new_time.isoformat()})
    assert (moved_away.status_code, moved_up.status_code) == (200, 200)

    ended = await client.wait_for_status(sooner["id"], set(FINAL_CODES), timeout=20)
    joining = ended.status_changes[1]
    assert joining.code == StatusCode.JOINING_CALL
    assert joining.created_at >= new_time, "not before its new join_at"
    assert codes((await http.get(f"{BOTS}{later['id']}/")).json()) == ["ready"], (
        "its old join_at passed two seconds before the other bot's new one"
    )


async def test_a_deleted_bot_is_gone_and_never_starts(
    http: httpx.AsyncClient, client: AsyncUnmixedClient
) -> None:
    with started_bots() as started:
        deleted = await create(http, scheduled(2.0))
        witness = await create(http, scheduled(3.0))
        response = await http.delete(f"{BOTS}{deleted['id']}/")
        assert (response.status_code, response.content) == (204, b"")
        assert (await http.get(f"{BOTS}{deleted['id']}/")).status_code == 404
        await client.wait_for_status(witness["id"], set(FINAL_CODES), timeout=20)
    assert witness["id"] in started, "the watch sees bots that start"
    assert deleted["id"] not in started
    again = await http.delete(f"{BOTS}{deleted['id']}/")
    assert again.status_code == 404


async def test_a_dispatched_bot_cannot_be_changed_or_deleted(
    http: httpx.AsyncClient, client: AsyncUnmixedClient
) -> None:
    async def never_answer(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await reader.read()

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with silent:
        bot = await create(http, {"meeting_url": f"testbed://127.0.0.1:{port}/1"})
        path = f"{BOTS}{bot['id']}/"
        await client.wait_for_status(bot["id"], {StatusCode.JOINING_CALL}, timeout=20)
        changed = await http.patch(path, json={"bot_name": "Too late"})
        assert (changed.status_code, changed.json()) == (
            400,
            {"code": "update_bot_failed", "detail": "Only non-dispatched bots can be updated"},
        )
        deleted = await http.delete(path)
        assert deleted.status_code == 405
        assert deleted.json()["code"] == "bot_already_dispatched"
        assert "already been dispatched" in deleted.json()["detail"]
        assert codes((await http.get(path)).json())[-1] == StatusCode.JOINING_CALL
        await client.leave_call(bot["id"])
        await client.wait_for_status(bot["id"], set(FINAL_CODES), timeout=20)


async def test_a_finished_bot_takes_no_command(http: httpx.AsyncClient) -> None:
    bot = await create(http, scheduled())
    path = f"{BOTS}{bot['id']}/"
    assert (await http.post(f"{path}leave_call/")).status_code == 200
    assert codes((await http.get(path)).json()) == ["ready", "call_ended", "done"]
    for response in (await http.patch(path, json={"bot_name": "x"}), await http.delete(path)):
        assert (response.status_code, response.json()["code"]) == (
            400,
            "cannot_command_completed_bot",
        )


async def bots_marked(http: httpx.AsyncClient, marker: str) -> int:
    count: int = (await http.get(BOTS, params={"metadata__run": marker})).json()["count"]
    return count


async def test_the_same_key_twice_creates_one_bot_and_answers_the_same(
    http: httpx.AsyncClient,
) -> None:
    marker = str(uuid.uuid4())
    body = scheduled(metadata={"run": marker})
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await http.post(BOTS, json=body, headers=key)
    again = await http.post(BOTS, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert await bots_marked(http, marker) == 1

    other_body = await http.post(BOTS, json=body | {"bot_name": "Other"}, headers=key)
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    assert other_body.json()["field"] == "Idempotency-Key"
    elsewhere = await http.post(f"{BOTS}{first.json()['id']}/leave_call/", headers=key)
    assert elsewhere.status_code == 200, "a key counts per route"
    assert await bots_marked(http, marker) == 1


async def test_a_replayed_update_is_not_applied_again(http: httpx.AsyncClient) -> None:
    bot = await create(http, scheduled())
    path = f"{BOTS}{bot['id']}/"
    key = {"Idempotency-Key": "rename-1"}
    first = await http.patch(path, json={"bot_name": "First"}, headers=key)
    assert (await http.patch(path, json={"bot_name": "Second"})).status_code == 200
    replayed = await http.patch(path, json={"bot_name": "First"}, headers=key)
    assert (replayed.status_code, replayed.content) == (first.status_code, first.content)
    assert (await http.get(path)).json()["bot_name"] == "Second"


async def test_a_key_in_progress_is_409_until_its_request_answers(
    http: httpx.AsyncClient, api: ApiServer
) -> None:
    """The first request is held in progress by claiming its key in the store,
    exactly as the API claims it before running a request."""
    body = json.dumps(scheduled()).encode()
    key = str(uuid.uuid4())
    database = open_database(api.settings.resolved_database_url())
    keys = IdempotencyKeys(database)
    first = IdempotentRequest.of(ENVIRONMENT_KEY, "POST", BOTS, key, body)
    try:
        assert keys.claim(first) is None
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        busy = await http.post(BOTS, content=body, headers=headers)
        assert busy.status_code == 409
        assert busy.json()["code"] == "idempotency_key_in_use"
        assert busy.json()["field"] == "Idempotency-Key"
        keys.release(first)
        assert (await http.post(BOTS, content=body, headers=headers)).status_code == 201
    finally:
        database.engine.dispose()


async def test_concurrent_requests_with_one_key_create_one_bot(http: httpx.AsyncClient) -> None:
    marker = str(uuid.uuid4())
    body = scheduled(metadata={"run": marker})
    key = {"Idempotency-Key": marker}
    answers = await asyncio.gather(*(http.post(BOTS, json=body, headers=key) for _ in range(8)))
    created = [answer for answer in answers if answer.status_code == 201]
    busy = [answer for answer in answers if answer.status_code == 409]
    assert len(created) + len(busy) == len(answers)
    assert created, "the first to claim the key runs"
    assert len({answer.content for answer in created}) == 1, "the rest replay its answer"
    assert all(answer.json()["code"] == "idempotency_key_in_use" for answer in busy)
    assert await bots_marked(http, marker) == 1


async def test_an_over_long_key_is_refused(http: httpx.AsyncClient) -> None:
    marker = str(uuid.uuid4())
    body = scheduled(metadata={"run": marker})
    refused = await http.post(BOTS, json=body, headers={"Idempotency-Key": "k" * 256})
    assert refused.status_code == 400
    assert refused.json()["field"] == "Idempotency-Key"
    assert await bots_marked(http, marker) == 0
    longest = await http.post(BOTS, json=body, headers={"Idempotency-Key": "k" * 255})
    assert longest.status_code == 201
