"""The bench's floor: the same audio, decoded to 16 kHz and wrapped as the bot sends it."""

import base64

import numpy as np
import pytest

from unmixed.bench.floor import MESSAGE_SAMPLES, Envelope, measure_floor
from unmixed.bench.speakers import bench_scenario, speaker_loop
from unmixed.wire.realtime import AudioSeparateRawMessage


def test_the_floor_turns_every_40_ms_of_each_stream_into_one_message() -> None:
    scenario = bench_scenario(2, 6.0)
    loops = [speaker_loop(spec, 2)[0] for spec in scenario.participants]
    floor = measure_floor(loops, 2.0)
    assert floor.stream_seconds == 4.0
    assert floor.messages == pytest.approx(2 * 2.0 / 0.04, abs=2)
    assert 0 < floor.percent_per_stream < 100


def test_a_floor_message_is_the_bots_message() -> None:
    pcm = (np.arange(MESSAGE_SAMPLES) % 200 - 100).astype(np.int16)
    envelope = Envelope(3)
    envelope.wrap(pcm)
    message = AudioSeparateRawMessage.model_validate_json(envelope.wrap(pcm))
    data = message.data.data
    assert np.array_equal(np.frombuffer(base64.b64decode(data.buffer), dtype="<i2"), pcm)
    assert data.participant.id == 3
    assert data.timestamp.relative == pytest.approx(MESSAGE_SAMPLES / 16_000)
