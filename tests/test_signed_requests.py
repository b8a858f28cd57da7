"""Every request a bot makes to its user's servers is signed with the account's secret,
as Recall's are: websocket upgrades (over an empty payload) and realtime webhook POSTs.
A receiver that verifies with the right secret takes them; with another, it refuses."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.inprocess import attend_in_process
from tests.scripted import Join, Leave, ScriptedAdapter, Speak, Step, UntilRecording
from tests.webhook_receiver import WebhookReceiver
from unmixed.receiver import AudioReceiver
from unmixed.store.webhooks import new_secret
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA, PARTICIPANT_EVENTS

QUICK = {"everyone_left_timeout": 0.05, "noone_joined_timeout": 0.5}
SCRIPT: list[Step] = [
    Join("a", "Ann"),
    UntilRecording(),
    Speak("a", 440, 1.0),
    Leave("a"),
]


def endpoints(receiver: AudioReceiver) -> dict[str, object]:
    return {
        "audio_separate_raw": {},
        "realtime_endpoints": [
            {
                "type": "websocket",
                "url": receiver.url,
                "events": [AUDIO_SEPARATE_RAW_DATA, *PARTICIPANT_EVENTS],
            }
        ],
    }


@pytest.fixture
async def hooks() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as receiver:
        yield receiver


async def test_a_receiver_that_checks_signatures_takes_the_bots_connections(
    tmp_path: Path,
) -> None:
    secret = new_secret()
    async with AudioReceiver(secret=secret) as receiver:
        await attend_in_process(
            ScriptedAdapter(SCRIPT),
            [receiver],
            tmp_path,
            secret=secret,
            recording_config=endpoints(receiver),
            automatic_leave=QUICK,
        )
    assert receiver.refused_upgrades == 0
    assert receiver.participant("Ann").seconds == pytest.approx(1.0, abs=0.05)
    assert receiver.participant_events[0].event == "participant_events.join"


async def test_a_receiver_refuses_connections_signed_with_another_secret(
    tmp_path: Path,
) -> None:
    async with AudioReceiver(secret=new_secret()) as receiver:
        await attend_in_process(
            ScriptedAdapter(SCRIPT),
            [receiver],
            tmp_path,
            secret=new_secret(),
            recording_config=endpoints(receiver),
            automatic_leave=QUICK,
        )
    assert receiver.refused_upgrades >= 2, "the audio and the events connection both refused"
    assert receiver.participants == {}
    assert receiver.participant_events == []


async def test_a_realtime_webhook_endpoint_gets_each_event_signed_and_in_order(
    hooks: WebhookReceiver, tmp_path: Path
) -> None:
    hooks.secret = new_secret()
    config = {
        "realtime_endpoints": [
            {"type": "webhook", "url": hooks.hook_url, "events": [*PARTICIPANT_EVENTS]}
        ]
    }
    await attend_in_process(
        ScriptedAdapter(SCRIPT),
        [],
        tmp_path,
        secret=hooks.secret,
        recording_config=config,
        automatic_leave=QUICK,
    )
    assert hooks.unverified == 0
    events = [received.payload["event"] for received in hooks.delivered]
    assert events == [
        "participant_events.join",
        "participant_events.speech_on",
        "participant_events.speech_off",
        "participant_events.leave",
    ]
    first = hooks.delivered[0].payload["data"]
    assert first["data"]["participant"]["name"] == "Ann"
    assert set(first) == {"data", "realtime_endpoint", "participant_events", "recording", "bot"}
    assert len({received.webhook_id for received in hooks.delivered}) == 4


async def test_an_endpoint_the_bot_gave_up_on_shows_as_failed_on_the_bot(
    tmp_path: Path,
) -> None:
    async with AudioReceiver() as receiver:
        refused = "ws://metadata.google.internal/stream"  # the egress policy never connects there
        config = {
            "audio_separate_raw": {},
            "realtime_endpoints": [
                {"type": "websocket", "url": url, "events": [AUDIO_SEPARATE_RAW_DATA]}
                for url in (receiver.url, refused)
            ],
        }
        bot = await attend_in_process(
            ScriptedAdapter(SCRIPT),
            [receiver],
            tmp_path,
            recording_config=config,
            automatic_leave=QUICK,
        )
    working, given_up = bot.recording_config.realtime_endpoints
    assert (working.status, given_up.status) == (None, "failed")
    assert receiver.participant("Ann").seconds == pytest.approx(1.0, abs=0.05)
