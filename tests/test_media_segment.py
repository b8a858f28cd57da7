"""The media path: 48 kHz stereo in, 16 kHz mono out, on a timeline with no holes."""

import itertools

import numpy as np
import pytest

from tests.audio import dominant_frequency
from unmixed.media import AudioSegment, Clock, TimelineBreak
from unmixed.media.segment import MAX_CHUNK_SAMPLES, MAX_SILENCE_FILL, MIN_CHUNK_SAMPLES, PcmFrame

RATE = 48_000
FRAME = 960


def stereo_tone(start_sample: int, hz: float = 1000.0) -> np.ndarray:
    t = (start_sample + np.arange(FRAME)) / RATE
    mono = (0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    return np.stack([mono, mono], axis=1)


def feed(segment: AudioSegment, frame_numbers: list[int], origin: float = 1000.0) -> list:
    chunks = []
    for number in frame_numbers:
        frame = PcmFrame(stereo_tone(number * FRAME), RATE, origin + number * FRAME / RATE)
        chunks.extend(segment.push(frame))
    return [*chunks, *segment.flush()]


def test_output_is_16khz_mono_and_continuous() -> None:
    chunks = feed(AudioSegment(), list(range(100)))
    for previous, current in itertools.pairwise(chunks):
        assert current.captured_at == pytest.approx(
            previous.captured_at + previous.duration, abs=1e-9
        )
    assert chunks[0].captured_at == 1000.0
    audio = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")
    assert len(audio) == pytest.approx(100 * FRAME / 3, abs=2)
    assert dominant_frequency(audio[1000:]) == pytest.approx(1000, abs=2)


def test_lost_packets_become_silence_of_the_right_length() -> None:
    frames = [n for n in range(100) if not 40 <= n < 50]
    chunks = feed(AudioSegment(), frames)
    audio = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")
    assert len(audio) == pytest.approx(100 * FRAME / 3, abs=2), "the gap is filled, not skipped"
    gap = audio[(40 * 320) + 100 : (50 * 320) - 100]
    assert np.abs(gap).max() < 50


def test_a_jump_beyond_the_fill_limit_breaks_the_timeline() -> None:
    segment = AudioSegment()
    feed(segment, [0, 1, 2])
    far = PcmFrame(stereo_tone(0), RATE, 1000.0 + 3 * FRAME / RATE + MAX_SILENCE_FILL + 1)
    with pytest.raises(TimelineBreak):
        segment.push(far)


def test_filled_silence_comes_in_bounded_chunks() -> None:
    chunks = feed(AudioSegment(), [0, 1, 2, 200])
    assert max(chunk.samples for chunk in chunks) <= MAX_CHUNK_SAMPLES
    for previous, current in itertools.pairwise(chunks):
        assert current.captured_at == pytest.approx(
            previous.captured_at + previous.duration, abs=1e-9
        )


def test_late_duplicate_frames_are_dropped() -> None:
    chunks = feed(AudioSegment(), [0, 1, 2, 3, 2, 4, 5])
    total = sum(c.samples for c in chunks)
    assert total == pytest.approx(6 * FRAME / 3, abs=2)


def test_messages_carry_at_least_40_ms_except_the_last() -> None:
    chunks = feed(AudioSegment(), list(range(50)))
    assert all(chunk.samples >= MIN_CHUNK_SAMPLES for chunk in chunks[:-1])


def arrival_frames(jitter: list[float], rate: int = 32_000, frame: int = 320) -> list[PcmFrame]:
    """10 ms frames whose arrival times wobble by `jitter` seconds, as a callback's do."""
    return [
        PcmFrame(
            np.full(frame, 1000, dtype=np.int16),
            rate,
            1000.0 + i * frame / rate + wobble,
            Clock.ARRIVAL,
        )
        for i, wobble in enumerate(jitter)
    ]


def test_arrival_jitter_never_becomes_silence_or_loss() -> None:
    """Frames up to 150 ms late or early are all kept, back to back."""
    jitter = [0.0, 0.15, -0.004, 0.06, 0.0, -0.01, 0.12, 0.0] * 25
    segment = AudioSegment()
    chunks = [c for f in arrival_frames(jitter) for c in segment.push(f)] + segment.flush()
    audio = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")
    assert len(audio) == pytest.approx(len(jitter) * 160, abs=2), "every sample, nothing added"
    steady = audio[200:-200]
    assert np.count_nonzero(np.abs(steady) < 500) == 0, "no silence was inserted"


def test_on_the_arrival_clock_a_real_pause_is_filled() -> None:
    """A source that stops sending for a second really paused: that second is silence."""
    frames = arrival_frames([0.0] * 50 + [1.0] * 50)
    segment = AudioSegment()
    chunks = [c for f in frames for c in segment.push(f)] + segment.flush()
    audio = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")
    assert len(audio) == pytest.approx(2.0 * 16_000, abs=2)


def test_float_samples_are_converted_and_other_types_refused() -> None:
    floats = PcmFrame(np.array([0.5, -1.0, 2.0], dtype=np.float32), 16_000, 0.0)
    assert floats.samples.dtype == np.int16
    assert floats.samples.reshape(-1).tolist() == [16383, -32767, 32767]
    with pytest.raises(TypeError):
        PcmFrame(np.zeros(3, dtype=np.int32), 16_000, 0.0)


def test_nothing_captured_before_the_recording_started_is_kept() -> None:
    """A frame that straddles the recording's start keeps only its later part, and the
    segment's timeline starts exactly at the start: no negative `relative`."""
    segment = AudioSegment(not_before=1000.0 + 1.5 * FRAME / RATE)
    chunks = feed(segment, list(range(10)))
    assert chunks[0].captured_at == pytest.approx(1000.0 + 1.5 * FRAME / RATE, abs=1 / RATE)
    audio = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")
    assert len(audio) == pytest.approx(8.5 * FRAME / 3, abs=2)
