"""`GET /api/v1/bot/`: numbered pages and Recall's filters, for one key's bots only."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from unmixed.api.server import ApiServer
from unmixed.store import ApiKeys, open_database

PAGE_SIZE = 50


@pytest.fixture(scope="module")
def fresh_key(data_dir: Path) -> str:
    """A key of its own, so other tests' bots stay out of these lists."""
    return ApiKeys(open_database(f"sqlite:///{data_dir / 'unmixed.db'}")).create("list tests")


async def test_pages_and_filters(api: ApiServer, fresh_key: str) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": fresh_key}) as http:
        for index in range(PAGE_SIZE + 3):
            response = await http.post(
                "/api/v1/bot/",
                json={
                    "meeting_url": "https://zoom.us/j/85512345678"
                    if index % 2
                    else "https://meet.google.com/abc-defg-hij",
                    "metadata": {"team": "red" if index < 10 else "blue"},
                    "join_at": (tomorrow + timedelta(minutes=index)).isoformat(),
                },
            )
            assert response.status_code == 201

        first = (await http.get("/api/v1/bot/")).json()
        assert first["count"] == PAGE_SIZE + 3
        assert len(first["results"]) == PAGE_SIZE
        assert first["previous"] is None
        assert first["next"].startswith(api.url)
        assert "page=2" in first["next"]
        second = (await http.get(first["next"])).json()
        assert len(second["results"]) == 3
        assert second["next"] is None
        assert "page=1" in second["previous"]
        ids = {bot["id"] for bot in first["results"] + second["results"]}
        assert len(ids) == PAGE_SIZE + 3

        red = (await http.get("/api/v1/bot/", params={"metadata__team": "red"})).json()
        assert red["count"] == 10
        assert all(bot["metadata"] == {"team": "red"} for bot in red["results"])

        zoom = (
            await http.get("/api/v1/bot/", params={"platform": "zoom", "status": "ready"})
        ).json()
        assert zoom["count"] == (PAGE_SIZE + 3) // 2
        assert {bot["meeting_url"]["platform"] for bot in zoom["results"]} == {"zoom"}

        cutoff = (tomorrow + timedelta(minutes=4, seconds=30)).strftime("%Y-%m-%d %H:%M:%S")
        early = (await http.get("/api/v1/bot/", params={"join_at_before": cutoff})).json()
        assert early["count"] == 5
        late = (await http.get("/api/v1/bot/", params={"join_at_after": cutoff})).json()
        assert late["count"] == PAGE_SIZE + 3 - 5

        past_the_end = await http.get("/api/v1/bot/", params={"page": 3})
        assert past_the_end.status_code == 404
        bad_date = await http.get("/api/v1/bot/", params={"join_at_after": "yesterday"})
        assert bad_date.status_code == 400
        assert bad_date.json()["field"] == "join_at_after"
