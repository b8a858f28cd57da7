"""The pipeline bench: the speakers' Opus, paced at real rate, through the real runner,
media and delivery to a real receiver, with no meeting and no WebRTC."""

from pathlib import Path

import pytest

from tests.audio import assert_continuous, dominant_frequency
from tests.inprocess import attend_in_process
from unmixed.bench.paced import PacedAdapter
from unmixed.bench.pipeline import PACKET_SAMPLES, measure_pipeline, paced_speakers, stream_count
from unmixed.receiver import AudioReceiver
from unmixed.wire.status import StatusCode

PITCHES = {"speaker-1": 400, "speaker-2": 500}
"""`bench_scenario`'s speakers: 400 Hz, then 100 Hz higher each."""


async def test_each_paced_speaker_arrives_whole_at_their_own_pitch(tmp_path: Path) -> None:
    speakers = paced_speakers(2, 1.6)
    async with AudioReceiver() as receiver:
        bot = await attend_in_process(PacedAdapter(speakers), [receiver], tmp_path)
    assert bot.status_changes[-1].code == StatusCode.DONE
    for speaker in speakers:
        heard = receiver.participant(speaker.name)
        (connection,) = heard.connections
        assert_continuous(connection)
        assert dominant_frequency(heard.timeline()) == pytest.approx(PITCHES[speaker.name], abs=10)
        count = stream_count(speaker.name, heard, len(speaker.packets) * PACKET_SAMPLES)
        assert (count.lost, count.gaps) == (0, 0)


async def test_the_bot_process_is_measured_apart_and_loses_nothing() -> None:
    figures = await measure_pipeline(2, 4.0)
    assert [stream.name for stream in figures.streams] == list(PITCHES)
    assert all(
        (stream.lost, stream.gaps, stream.connections) == (0, 0, 1) for stream in figures.streams
    )
    assert figures.watch.cpu_percent > 0
    assert figures.watch.peak_rss > 0
    assert figures.floor.percent_per_stream > 0
