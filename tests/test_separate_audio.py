"""Each participant's audio on its own connection, in the contract's format."""

import base64
from collections.abc import AsyncIterator
from datetime import datetime

import numpy as np
import pytest

from tests.audio import assert_continuous, dominant_frequency, tone_level_db
from tests.meeting import Attended, attend
from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import StatusCode

TONES = {"Alice": 440.0, "Bob": 660.0, "Carol": 880.0}


ThreeTones = tuple[Attended, AudioReceiver]


@pytest.fixture(scope="module")
async def three_tones(
    janus: JanusServer, api: ApiServer, api_key: str
) -> AsyncIterator[ThreeTones]:
    """One meeting shared by this module's tests: three tones, six seconds, everyone leaves."""
    async with AudioReceiver() as receiver, AsyncUnmixedClient(api.url, api_key) as client:
        attended = await attend(
            client,
            janus.url,
            [receiver],
            {
                "participants": [
                    {"name": name, "tone_hz": hz, "is_host": name == "Alice", "leave_at": 6}
                    for name, hz in TONES.items()
                ],
                "duration": 8,
            },
            automatic_leave={"everyone_left_timeout": 1},
        )
        yield attended, receiver


async def test_each_connection_carries_only_its_participants_tone(three_tones: ThreeTones) -> None:
    attended, receiver = three_tones
    assert attended.bot.status_changes[-1].code == StatusCode.DONE
    assert receiver.invalid_messages == []
    assert {p.name for p in receiver.participants.values()} == set(TONES)
    for name, hz in TONES.items():
        participant = receiver.participant(name)
        assert len(participant.connections) == 1, f"{name} should have had one connection"
        audio = participant.between(0.5, participant.seconds - 0.5)
        assert len(audio) > 3 * 16000, f"{name}: only {len(audio) / 16000:.1f} s of audio"
        assert abs(dominant_frequency(audio) - hz) < 3, f"{name} is not at {hz} Hz"
        own = tone_level_db(audio, hz)
        for other, other_hz in TONES.items():
            if other != name:
                assert tone_level_db(audio, other_hz) < own - 40, f"{other} leaks into {name}"


async def test_messages_have_the_contracts_exact_shape(three_tones: ThreeTones) -> None:
    attended, receiver = three_tones
    bot = attended.bot
    endpoint = bot.recording_config.realtime_endpoints[0]
    artifact = bot.recording_config.audio_separate_raw
    assert artifact is not None
    (recording,) = bot.recordings
    assert len(receiver.connections) == len(TONES), "one connection per participant"
    for connection in receiver.connections:
        message = connection.first_message
        assert message is not None
        assert message["event"] == "audio_separate_raw.data"
        assert set(message["data"]) == {
            "data",
            "realtime_endpoint",
            "audio_separate",
            "recording",
            "bot",
        }
        assert message["data"]["realtime_endpoint"] == {
            "id": endpoint.id,
            "metadata": endpoint.metadata,
        }
        assert message["data"]["audio_separate"] == {"id": artifact.id, "metadata": {}}
        assert message["data"]["recording"] == {"id": recording.id, "metadata": {}}
        assert message["data"]["bot"] == {"id": bot.id, "metadata": {"test": "yes"}}
        data = message["data"]["data"]
        assert set(data) == {"buffer", "timestamp", "participant"}
        pcm = base64.b64decode(data["buffer"])
        assert len(pcm) % 2 == 0
        assert len(pcm) > 0
        assert isinstance(data["timestamp"]["relative"], float)
        absolute = data["timestamp"]["absolute"]
        assert isinstance(absolute, str)
        assert absolute.endswith("Z")
        assert datetime.fromisoformat(absolute).tzinfo is not None
        participant = data["participant"]
        assert set(participant) == {"id", "name", "is_host", "platform", "extra_data"}
        assert type(participant["id"]) is int
        assert participant["id"] in (1, 2, 3)
        assert participant["is_host"] is (participant["name"] == "Alice")
        assert participant["platform"] == "desktop"
        assert participant["extra_data"]["separation"] == "per_participant"
        assert isinstance(participant["extra_data"]["platform_id"], str)


async def test_audio_is_16khz_mono_on_a_continuous_timeline(three_tones: ThreeTones) -> None:
    _, receiver = three_tones
    assert len(receiver.participants) == len(TONES)
    for participant in receiver.participants.values():
        (connection,) = participant.connections
        arrivals = connection.arrivals
        assert_continuous(connection)
        # The timeline in samples (16 kHz) matches the capture clock it claims.
        span = arrivals[-1].captured_at - arrivals[0].captured_at
        assert span == pytest.approx(sum(a.samples for a in arrivals[:-1]) / 16000, abs=0.002)
        wall = arrivals[-1].arrived_at - arrivals[0].arrived_at
        assert wall == pytest.approx(span, rel=0.1), "audio arrived at real-time pace"
        assert np.isfinite(participant.last_level_dbfs)
