"""A Recall user's integration, unchanged but for the base URL and the key: a webhook
endpoint, a bot with separate audio and participant events on a websocket endpoint, the
status webhooks followed to `done`, everything verified with the account's secret."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.webhook_receiver import WebhookReceiver
from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.store import ENVIRONMENT_KEY, open_database
from unmixed.store.webhooks import WebhookEndpoints
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.bots import Bot
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA, PARTICIPANT_EVENTS
from unmixed.wire.status import FINAL_CODES, StatusCode

SCENARIO = Scenario.model_validate(
    {"participants": [{"name": "Ann", "tone_hz": 440, "leave_at": 3}], "duration": 4}
)


@pytest.fixture
async def hooks() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as receiver:
        yield receiver


def fresh_secret(api: ApiServer) -> str:
    """The account made its secret in an earlier test, and it is shown once: make a new
    one, as `unmixed webhooks rotate-secret` would."""
    database = open_database(api.settings.resolved_database_url())
    return WebhookEndpoints(database).rotate_secret(ENVIRONMENT_KEY)


async def attend_with_webhooks(
    api: ApiServer, api_key: str, janus: JanusServer, secret: str, hooks: WebhookReceiver
) -> tuple[Bot, AudioReceiver]:
    """Send a bot with Recall's request shape and follow it to `done` and its webhooks."""
    endpoint = {
        "type": "websocket",
        "events": [AUDIO_SEPARATE_RAW_DATA, *PARTICIPANT_EVENTS],
    }
    async with (
        AudioReceiver(secret=secret) as receiver,
        AsyncUnmixedClient(api.url, api_key) as client,
        TestbedMeeting(janus.url, SCENARIO) as meeting,
    ):
        bot = await client.create_bot(
            meeting_url=meeting.meeting_url,
            recording_config={
                "audio_separate_raw": {},
                "realtime_endpoints": [{**endpoint, "url": receiver.url}],
            },
            automatic_leave={"everyone_left_timeout": 1},
        )
        await client.wait_for_status(bot.id, {StatusCode.IN_CALL_RECORDING}, timeout=30)
        await meeting.play()
        bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
        await hooks.until(lambda: len(hooks.delivered) >= len(bot.status_changes) - 1)

    return bot, receiver


async def test_a_recall_integration_runs_unchanged_on_the_testbed(
    janus: JanusServer, api: ApiServer, api_key: str, hooks: WebhookReceiver
) -> None:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Token {api_key}"}
    ) as http:
        added = await http.post("/api/v1/webhook_endpoint/", json={"url": hooks.hook_url})
        assert added.status_code == 201
        secret = added.json()["secret"] or fresh_secret(api)
        hooks.secret = secret
        try:
            bot, receiver = await attend_with_webhooks(api, api_key, janus, secret, hooks)
        finally:  # the session's other tests have no use for this endpoint
            await http.delete(f"/api/v1/webhook_endpoint/{added.json()['id']}/")
    codes = [(change.code, change.sub_code) for change in bot.status_changes]
    assert codes == [
        ("ready", None),
        ("joining_call", None),
        ("in_call_not_recording", None),
        ("in_call_recording", None),
        ("call_ended", "timeout_exceeded_everyone_left"),
        ("done", None),
    ]
    sent = [received.payload for received in hooks.delivered]
    assert [payload["event"] for payload in sent] == [f"bot.{code}" for code, _ in codes[1:]]
    assert all(payload["data"]["bot"]["id"] == bot.id for payload in sent)
    assert hooks.unverified == 0
    assert receiver.refused_upgrades == 0
    assert receiver.participant("Ann").seconds > 1
    kinds = [event.event for event in receiver.participant_events]
    assert kinds[0] == "participant_events.join"
    assert kinds[-1] == "participant_events.leave"
    assert "participant_events.speech_on" in kinds
    print("status_changes:", json.dumps([c.model_dump(mode="json") for c in bot.status_changes]))
    last = hooks.delivered[-1]
    print("one webhook as sent:", dict(last.signature_headers), last.body)
