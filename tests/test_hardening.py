"""The API as an attacker tries it: every request that once gave a 500, stored poison or
reached where it must not now answers a 4xx JSON naming the field, and stores nothing."""

import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.test_api import bot_request
from unmixed.api.server import ApiServer

ENDPOINT_URL = "recording_config.realtime_endpoints[0].url"


@pytest.fixture
async def http(api: ApiServer, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": api_key}) as client:
        yield client


async def bot_count(http: httpx.AsyncClient) -> int:
    response = await http.get("/api/v1/bot/")
    assert response.status_code == 200
    count: int = response.json()["count"]
    return count


def with_endpoint(url: str) -> dict[str, Any]:
    return bot_request(
        recording_config={
            "audio_separate_raw": {},
            "realtime_endpoints": [
                {"type": "websocket", "url": url, "events": ["audio_separate_raw.data"]}
            ],
        }
    )


REFUSED_REQUESTS = {
    # Endpoints the egress policy refuses by their literal address or name.
    "metadata-address": (with_endpoint("ws://169.254.169.254/"), ENDPOINT_URL),
    "unspecified": (with_endpoint("ws://0.0.0.0/"), ENDPOINT_URL),
    "decimal-loopback": (with_endpoint("ws://2130706433/"), ENDPOINT_URL),
    "mapped-metadata": (with_endpoint("ws://[::ffff:169.254.169.254]/"), ENDPOINT_URL),
    "metadata-name": (with_endpoint("ws://metadata.google.internal/"), ENDPOINT_URL),
    "link-local-v6": (with_endpoint("ws://[fe80::1]/"), ENDPOINT_URL),
    # Malformed endpoint URLs.
    "no-host": (with_endpoint("ws://"), ENDPOINT_URL),
    "empty-host": (with_endpoint("ws:///nohost"), ENDPOINT_URL),
    "space": (with_endpoint("ws://a b/"), ENDPOINT_URL),
    "encoded-nul": (with_endpoint("ws://%00/"), ENDPOINT_URL),
    # The testbed is loopback only, and takes no credentials to pass on.
    "testbed-userinfo": (
        bot_request(meeting_url="testbed://user:pass@127.0.0.1:18001/1"),
        "meeting_url",
    ),
    "testbed-metadata": (bot_request(meeting_url="testbed://169.254.169.254:80/1"), "meeting_url"),
    "testbed-remote": (bot_request(meeting_url="testbed://192.0.2.7:8088/1"), "meeting_url"),
    "testbed-port-high": (bot_request(meeting_url="testbed://127.0.0.1:99999/1"), "meeting_url"),
    "testbed-port-text": (bot_request(meeting_url="testbed://127.0.0.1:abc/1"), "meeting_url"),
    "testbed-port-negative": (bot_request(meeting_url="testbed://127.0.0.1:-1/1"), "meeting_url"),
    "testbed-huge-room": (
        bot_request(meeting_url="testbed://127.0.0.1:8088/" + "9" * 5000),
        "meeting_url",
    ),
    "bad-ipv6": (bot_request(meeting_url="https://[zoom.us/j/1"), "meeting_url"),
    # Values that cannot be stored or sent back.
    "lone-surrogates": (bot_request(metadata={"\udfff": "\ud800"}), "metadata"),
    "surrogate-value": (bot_request(metadata={"k": "\ud800"}), "metadata.k"),
    "nul-in-name": (bot_request(bot_name="a\x00b"), "bot_name"),
    "join-at-overflow": (bot_request(join_at="9999-12-31T23:59:59-23:59"), "join_at"),
    "join-at-far": (bot_request(join_at="2999-01-01T00:00:00Z"), "join_at"),
    "infinite-timeout": (
        bot_request(automatic_leave={"everyone_left_timeout": math.inf}),
        "automatic_leave.everyone_left_timeout",
    ),
    # Sizes.
    "long-url": (
        bot_request(meeting_url="https://zoom.us/j/85512345678?pwd=" + "a" * 1_000_000),
        "meeting_url",
    ),
    "long-name": (bot_request(bot_name="n" * 101), "bot_name"),
    "many-metadata-keys": (bot_request(metadata={str(i): "v" for i in range(10_000)}), "metadata"),
    "long-metadata-value": (bot_request(metadata={"k": "v" * 513}), "metadata.k"),
    "many-endpoints": (
        bot_request(
            recording_config={
                "audio_separate_raw": {},
                "realtime_endpoints": [
                    {
                        "type": "websocket",
                        "url": "ws://127.0.0.1:9/",
                        "events": ["audio_separate_raw.data"],
                    }
                ]
                * 10_000,
            }
        ),
        "recording_config.realtime_endpoints",
    ),
}


def json_body(request: dict[str, Any]) -> bytes:
    """Encode as Python's json does, lone surrogates and infinities included (httpx refuses)."""
    return json.dumps(request).encode()


@pytest.mark.parametrize(("request_body", "field"), REFUSED_REQUESTS.values(), ids=REFUSED_REQUESTS)
async def test_refused_with_the_field_named_and_nothing_stored(
    http: httpx.AsyncClient, request_body: dict[str, Any], field: str
) -> None:
    before = await bot_count(http)
    response = await http.post(
        "/api/v1/bot/",
        content=json_body(request_body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["field"] == field
    assert await bot_count(http) == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=1000000000000000000000", "page"),
        ("page=180000000000000000", "page"),
        ("page=0", "page"),
        ("metadata__owner%00=A", "metadata__KEY"),
        ("metadata__=A", "metadata__KEY"),
        ("status=%00", "status[0]"),
        ("platform=skype", "platform[0]"),
        ("stauts=done", "stauts"),
        ("join_at_after=9999-12-31T23:59:59-23:59", "join_at_after"),
        ("join_at_before=yesterday", "join_at_before"),
    ],
)
async def test_bad_list_queries_are_400s(http: httpx.AsyncClient, query: str, field: str) -> None:
    response = await http.get(f"/api/v1/bot/?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


async def test_page_links_ignore_the_clients_host_headers(
    http: httpx.AsyncClient, api: ApiServer
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for _ in range(51):
        created = await http.post(
            "/api/v1/bot/", json=bot_request(metadata={"links": "yes"}, join_at=tomorrow)
        )
        assert created.status_code == 201
    page = await http.get(
        "/api/v1/bot/?metadata__links=yes",
        headers={
            "Host": "evil.example",
            "X-Forwarded-Proto": "gopher",
            "X-Forwarded-Host": "evil.example",
        },
    )
    assert page.status_code == 200
    assert page.json()["next"] == f"{api.url}/api/v1/bot/?metadata__links=yes&page=2"
