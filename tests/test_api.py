"""The HTTP API as a Recall client sees it: status codes, bodies, and bots that cannot join."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.net import free_port
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

ENDPOINT = {
    "type": "websocket",
    "url": "ws://127.0.0.1:9/audio?token=t",
    "events": ["audio_separate_raw.data"],
}


def bot_request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "meeting_url": "testbed://127.0.0.1:9/1234",
        "bot_name": "Notetaker",
        "recording_config": {"audio_separate_raw": {}, "realtime_endpoints": [dict(ENDPOINT)]},
    }
    request.update(changes)
    return request


@pytest.fixture
async def http(api: ApiServer, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Token {api_key}"}
    ) as c:
        yield c


@pytest.mark.parametrize("authorization", [None, "Token not-a-key", "not-a-key"])
async def test_requests_without_a_valid_key_get_401(
    api: ApiServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as anonymous:
        response = await anonymous.post("/api/v1/bot/", json=bot_request())
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


async def test_bare_key_and_missing_trailing_slash_are_accepted(
    api: ApiServer, api_key: str
) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": api_key}) as bare:
        created = await bare.post("/api/v1/bot", json=bot_request())
        assert created.status_code == 201
        fetched = await bare.get(f"/api/v1/bot/{created.json()['id']}")
    assert fetched.status_code == 200
    bot = fetched.json()
    assert bot["meeting_url"] == {
        "meeting_id": "1234",
        "meeting_password": None,
        "platform": "testbed",
    }
    assert bot["metadata"] == {}
    assert bot["status_changes"][0]["code"] == "ready"
    assert bot["recording_config"]["realtime_endpoints"][0]["id"]
    assert bot["recording_config"]["realtime_endpoints"][0]["url"] == ENDPOINT["url"]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({k: v for k, v in bot_request().items() if k != "meeting_url"}, "meeting_url"),
        (bot_request(meeting_url="https://example.com/meeting"), "meeting_url"),
        (bot_request(metadata={"customer": 7}), "metadata.customer"),
        (
            bot_request(
                recording_config={
                    "audio_separate_raw": {},
                    "realtime_endpoints": [{**ENDPOINT, "url": "https://example.com/hook"}],
                }
            ),
            "recording_config.realtime_endpoints[0].url",
        ),
        (
            bot_request(recording_config={"realtime_endpoints": [ENDPOINT]}),
            "recording_config.realtime_endpoints[0].events[0]",
        ),
        (
            bot_request(
                recording_config={
                    "audio_separate_raw": {},
                    "realtime_endpoints": [{**ENDPOINT, "events": ["transcript.dat"]}],
                }
            ),
            "recording_config.realtime_endpoints[0].events[0]",
        ),
    ],
    ids=[
        "missing-url",
        "not-a-meeting",
        "metadata-not-string",
        "http-endpoint",
        "artifact-off",
        "typo-event",
    ],
)
async def test_bad_requests_name_the_field(
    http: httpx.AsyncClient, request_body: dict[str, Any], field: str
) -> None:
    response = await http.post("/api/v1/bot/", json=request_body)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["field"] == field
    assert body["detail"]


async def test_unknown_bot_is_a_json_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/bot/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def fatal_sub_code(client: AsyncUnmixedClient, meeting_url: str) -> str | None:
    bot = await client.create_bot(**bot_request(meeting_url=meeting_url))
    bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
    codes = [change.code for change in bot.status_changes]
    assert codes == [StatusCode.READY, StatusCode.JOINING_CALL, StatusCode.FATAL]
    return bot.status_changes[-1].sub_code


async def test_bot_for_an_unreachable_meeting_ends_fatal(client: AsyncUnmixedClient) -> None:
    sub_code = await fatal_sub_code(client, f"testbed://127.0.0.1:{free_port()}/1234")
    assert sub_code == SubCode.MEETING_UNREACHABLE


async def test_bot_for_a_room_that_does_not_exist_ends_fatal(
    client: AsyncUnmixedClient, janus: JanusServer
) -> None:
    sub_code = await fatal_sub_code(client, f"testbed://127.0.0.1:{janus.http_port}/99")
    assert sub_code == SubCode.MEETING_NOT_FOUND


async def test_a_browser_bot_whose_page_does_not_load_ends_fatal_unreachable(
    client: AsyncUnmixedClient,
) -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}/videoroom/1234"
    bot = await client.create_bot(**bot_request(meeting_url=nobody_listens))
    assert bot.meeting_url.platform == "testbed_web"
    bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
    last = bot.status_changes[-1]
    assert (last.code, last.sub_code) == (StatusCode.FATAL, SubCode.MEETING_UNREACHABLE)


async def test_a_zoom_bot_without_sdk_credentials_ends_fatal_at_once(
    client: AsyncUnmixedClient,
) -> None:
    bot = await client.create_bot(
        **bot_request(meeting_url="https://us02web.zoom.us/j/85512345678?pwd=abc")
    )
    assert bot.meeting_url.platform == "zoom"
    assert bot.meeting_url.meeting_password == "abc"
    bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
    last = bot.status_changes[-1]
    assert (last.code, last.sub_code) == (StatusCode.FATAL, SubCode.ZOOM_SDK_CREDENTIALS_MISSING)
    assert last.message is not None
    assert "UNMIXED_ZOOM_CLIENT_ID" in last.message
