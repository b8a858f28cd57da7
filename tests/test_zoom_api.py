"""A Zoom bot through the real API, bot process and Zoom SDK, on a machine that cannot
reach Zoom: the SDK starts, asks Zoom about the app, and the bot ends `fatal` with a
documented sub_code, in our words, with no secret in any log."""

import importlib.util
from pathlib import Path

import httpx
import pytest

from tests.serve import ServeProcess
from unmixed.client import AsyncUnmixedClient
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("zoom_meeting_sdk") is None,
    reason="needs the zoom extra, which the test setup installs",
)

KEY = "zoom-api-key"
CLIENT_SECRET = "PLANTED-zoom-client-secret-0123456789"
MEETING_PASSWORD = "PLANTED-zoom-meeting-password"


async def test_offline_a_zoom_bot_ends_zoom_auth_failed(tmp_path: Path) -> None:
    log_path = tmp_path / "api.log"
    environment = {
        "UNMIXED_DATA_DIR": str(tmp_path),
        "UNMIXED_API_KEY": KEY,
        "UNMIXED_ZOOM_CLIENT_ID": "offlineClientId0123",
        "UNMIXED_ZOOM_CLIENT_SECRET": CLIENT_SECRET,
    }
    async with (
        ServeProcess(environment, log_path) as api,
        AsyncUnmixedClient(api.url, KEY) as client,
    ):
        bot = await client.create_bot(
            meeting_url=f"https://us02web.zoom.us/j/85512345678?pwd={MEETING_PASSWORD}",
            zoom={"zak_token": "PLANTED-zak-token"},
        )
        bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=60)
        async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": KEY}) as http:
            shown = (await http.get(f"/api/v1/bot/{bot.id}/")).text
    codes = [(change.code, change.sub_code) for change in bot.status_changes]
    assert codes == [
        (StatusCode.READY, None),
        (StatusCode.JOINING_CALL, None),
        (StatusCode.FATAL, SubCode.ZOOM_AUTH_FAILED),
    ]
    assert bot.status_changes[-1].message
    log = log_path.read_text()
    assert "bot process exited" in log
    assert "exit_code=0" in log, "the SDK was cleaned up and the process ended cleanly"
    for secret in (CLIENT_SECRET, MEETING_PASSWORD, "PLANTED-zak-token"):
        assert secret not in log
    assert "PLANTED-zak-token" not in shown, "platform tokens are never shown back"
