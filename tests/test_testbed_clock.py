"""The testbed adapter's media clock: where a stream's RTP time falls on wall time.

The first packet of a stream may reach a busy bot hundreds of milliseconds
late; dating the stream from it would put every sample that much too late.
"""

from collections import deque

import numpy as np
import pytest

from unmixed.media import PcmFrame
from unmixed.platforms.testbed import FeedAudio, MediaClock, _after_first_jump
from unmixed.wire.realtime import SAMPLE_RATE

FRAME = 0.02
CAPTURED = 1_000.0
"""The Unix time the stream's media time 0 was captured."""


class _Nowhere:
    """An `AudioInput` for tests of dating alone."""

    def push(self, frame: PcmFrame) -> None:
        pass


def _frame() -> np.ndarray:
    return np.zeros(int(FRAME * SAMPLE_RATE), dtype=np.int16)


def test_a_late_first_packet_does_not_date_the_stream() -> None:
    clock = MediaClock()
    clock.observe(CAPTURED + 0.4, 0.0)  # the bot was busy starting
    assert clock.origin == pytest.approx(CAPTURED + 0.4)
    for index in range(1, 50):  # caught up: later packets come in 5 ms
        clock.observe(CAPTURED + index * FRAME + 0.005, index * FRAME)
    assert clock.origin == pytest.approx(CAPTURED + 0.005)


def test_the_smallest_delay_is_forgotten_after_two_windows() -> None:
    """A sender's clock that runs slow drifts later; an old minimum would date too early."""
    clock = MediaClock(window=1.0)
    clock.observe(CAPTURED, 0.0)
    clock.observe(CAPTURED + 1.5 + 0.05, 1.5)
    assert clock.origin == pytest.approx(CAPTURED)
    clock.observe(CAPTURED + 2.5 + 0.05, 2.5)
    assert clock.origin == pytest.approx(CAPTURED + 0.05)


def test_after_a_long_silence_only_what_follows_counts() -> None:
    clock = MediaClock(window=1.0)
    clock.observe(CAPTURED, 0.0)
    clock.observe(CAPTURED + 10 + 0.03, 10.0)
    assert clock.origin == pytest.approx(CAPTURED + 0.03)


def test_the_clock_needs_a_packet() -> None:
    with pytest.raises(LookupError):
        _ = MediaClock().origin


def test_a_spell_keeps_its_origin_and_the_next_takes_the_better_one() -> None:
    audio = FeedAudio(_Nowhere())
    audio.clock.observe(CAPTURED + 0.4, 0.0)
    audio.start_spell(0.0)
    assert audio.origin == pytest.approx(CAPTURED + 0.4)
    audio.clock.observe(CAPTURED + 2.0 + 0.005, 2.0)
    assert audio.origin == pytest.approx(CAPTURED + 0.4), "a spell's timeline is continuous"
    audio.last_media_end = 3.0
    audio.start_spell(4.0)
    assert audio.origin == pytest.approx(CAPTURED + 0.005)


def test_a_spell_never_starts_before_the_last_one_ended() -> None:
    audio = FeedAudio(_Nowhere())
    audio.clock.observe(CAPTURED + 0.4, 0.0)
    audio.start_spell(0.0)
    audio.clock.observe(CAPTURED + 2.0, 2.0)
    audio.last_media_end = 2.0
    audio.start_spell(2.1)  # muted for 0.1 s, while the origin improved by 0.4 s
    assert audio.origin + 2.1 == pytest.approx(CAPTURED + 0.4 + 2.0)


def test_frames_in_flight_at_the_mute_are_not_the_unmuted_audio() -> None:
    pending = [(1.00, _frame()), (1.02, _frame()), (2.50, _frame()), (2.52, _frame())]
    kept = _after_first_jump(deque(pending), last_media_end=1.04)
    assert [media_time for media_time, _ in kept] == [2.50, 2.52]
