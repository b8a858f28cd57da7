"""Participant events through the real testbed, bot and receiver: who joined and left,
and when each spoke, from their own voices (espeak-ng sentences with pauses)."""

import math
from pathlib import Path

import pytest

from tests.meeting import audio_endpoint
from unmixed.client import UnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.receiver.server import ParticipantEvent
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.testbed.speech import spoken_track, voiced_spans
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA, PARTICIPANT_EVENTS
from unmixed.wire.status import FINAL_CODES, StatusCode

SPEAKERS = {
    "Ann": ("en-us+f3", "The quarterly numbers look better than we expected.", 1.0),
    "Ben": ("en-us+m3", "Let us move the launch to the second week of May.", 4.5),
}
"""Name: espeak voice, sentence, when they start saying it (each says it once)."""
SECONDS = 9.0


def track(folder: Path, name: str) -> Path:
    """The sentence at its moment, silence around it, and no loop before they leave."""
    voice, sentence, start = SPEAKERS[name]
    return spoken_track(folder, name, voice, [(sentence, start)], SECONDS + 4)


async def test_join_speech_and_leave_arrive_for_the_right_people_on_time(
    janus: JanusServer, client: UnmixedClient, receiver: AudioReceiver, tmp_path: Path
) -> None:
    scenario = Scenario.model_validate(
        {
            "participants": [
                {"name": name, "audio": str(track(tmp_path, name)), "leave_at": SECONDS}
                for name in SPEAKERS
            ],
            "duration": SECONDS + 1,
        }
    )
    endpoint = audio_endpoint(receiver)
    endpoint["events"] = [AUDIO_SEPARATE_RAW_DATA, *PARTICIPANT_EVENTS]
    async with TestbedMeeting(janus.url, scenario) as meeting:
        bot = await client.create_bot(
            meeting_url=meeting.meeting_url,
            recording_config={"audio_separate_raw": {}, "realtime_endpoints": [endpoint]},
            automatic_leave={"everyone_left_timeout": 1},
        )
        await client.wait_for_status(bot.id, {StatusCode.IN_CALL_RECORDING}, timeout=30)
        await meeting.play()
        bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
    assert receiver.invalid_messages == []
    started = next(c for c in bot.status_changes if c.code == StatusCode.IN_CALL_RECORDING)
    recording_start = started.created_at.timestamp()

    for name in SPEAKERS:
        events: list[ParticipantEvent] = [e for e in receiver.participant_events if e.name == name]
        kinds = [e.event.removeprefix("participant_events.") for e in events]
        assert kinds == ["join", "speech_on", "speech_off", "leave"], f"{name}: {kinds}"
        _, speech_on, speech_off, _ = events
        audio = receiver.participant(name)
        [(onset, end)] = voiced_spans(audio.timeline(), gap=math.inf)
        on_delay = speech_on.arrived_at - (recording_start + onset)
        off_delay = speech_off.arrived_at - (recording_start + end)
        print(
            f"{name}: speech_on dated {1000 * (speech_on.relative - onset):+.0f} ms from the "
            f"voice, arrived {1000 * on_delay:.0f} ms after it; speech_off dated "
            f"{1000 * (speech_off.relative - end):+.0f} ms, arrived {1000 * off_delay:.0f} ms after"
        )
        assert speech_on.relative == pytest.approx(onset, abs=0.1), "dated where the voice starts"
        assert speech_off.relative == pytest.approx(end, abs=0.25), "and where it ends"
        assert on_delay < 0.3, f"{name}: late speech_on"
        assert off_delay < 1.0, f"{name}: late speech_off"
        assert speech_on.participant_id == audio.id
