"""One participant's audio from an unmute to the next mute: resampled, gap-free, timed.

Within a segment the contract promises a continuous timeline: each chunk starts
exactly where the previous one ended. So a chunk's timestamp is derived from
the number of samples already emitted, not read off the frame. What a frame's
own time means depends on its clock:

- On the media clock (RTP), packets the network lost become silence of the
  length the clock says, and a frame more than half a frame early is a
  duplicate, dropped.
- On the arrival clock, a frame is never dropped and jitter never becomes
  silence: only a frame later than `ARRIVAL_GAP` behind the timeline (the
  source really stopped sending) has the missing time filled with silence.
"""

import math
from dataclasses import dataclass

import numpy as np
import soxr

from unmixed.media.frames import Clock, PcmFrame
from unmixed.wire.realtime import BYTES_PER_SAMPLE, SAMPLE_RATE

MAX_SILENCE_FILL = 5.0
"""Seconds of lost audio a segment fills with silence; a longer hole starts a new segment."""

MIN_CHUNK_SAMPLES = SAMPLE_RATE * 40 // 1000
"""Chunks (so messages) carry at least 40 ms, except the last of a segment. Each
message has a fixed cost (building the JSON, a websocket frame, a syscall); sending
what the resampler yields (about 30 ms, irregularly) measured roughly 0.3 points more
CPU per stream for about 18 ms less latency (figures in the README)."""

ARRIVAL_GAP = 0.2
"""On the arrival clock, how late a frame may come before the time it missed is silence."""

MAX_CHUNK_SAMPLES = SAMPLE_RATE // 2
"""No chunk carries more than 0.5 s, however much silence was filled."""


class TimelineBreak(Exception):
    """The frame does not fit this segment's timeline: its stream jumped too far."""


@dataclass(frozen=True)
class AudioChunk:
    pcm: bytes
    """Mono S16LE at 16 kHz."""
    captured_at: float
    """Unix time of the first sample."""

    @property
    def samples(self) -> int:
        return len(self.pcm) // BYTES_PER_SAMPLE

    @property
    def duration(self) -> float:
        return self.samples / SAMPLE_RATE


class _Passthrough:
    """Stands in for the resampler when the platform already sends 16 kHz."""

    def resample_chunk(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        return samples


class AudioSegment:
    """Feed it a participant's frames in arrival order; it returns 16 kHz chunks."""

    def __init__(self, not_before: float = 0.0) -> None:
        """`not_before`: Unix time before which nothing belongs to the segment (the
        recording's start: audio captured before it has no place on its timeline)."""
        self._not_before = not_before
        self._resampler: soxr.ResampleStream | _Passthrough | None = None
        self._input_rate = 0
        self._started_at = 0.0
        self._samples_in = 0
        self._samples_out = 0
        self._held = np.zeros(0, dtype=np.int16)

    def push(self, frame: PcmFrame) -> list[AudioChunk]:
        """The 16 kHz audio this frame completes; raises `TimelineBreak` on a jump
        larger than `MAX_SILENCE_FILL` either way, or a change of sample rate."""
        mono = _downmix(frame.samples)
        captured_at = frame.captured_at
        if self._resampler is None:
            early = math.ceil((self._not_before - captured_at) * frame.sample_rate)
            if early >= len(mono):
                return []
            if early > 0:
                mono, captured_at = mono[early:], captured_at + early / frame.sample_rate
            self._start(frame.sample_rate, captured_at)
        elif frame.sample_rate != self._input_rate:
            raise TimelineBreak(f"sample rate changed: {self._input_rate} -> {frame.sample_rate}")
        missing = round((captured_at - self._expected_next()) * self._input_rate)
        if abs(missing) > MAX_SILENCE_FILL * self._input_rate:
            raise TimelineBreak(f"the stream jumped by {missing / self._input_rate:+.1f} s")
        if missing > self._tolerance(frame, len(mono)):
            mono = np.concatenate([np.zeros(missing, dtype=np.int16), mono])
        elif frame.clock == Clock.MEDIA and missing < -len(mono) // 2:
            return []
        self._samples_in += len(mono)
        return self._emit(self._convert(mono, last=False), final=False)

    def flush(self) -> list[AudioChunk]:
        """The samples still inside the resampler's filter, at the end of the segment."""
        if self._resampler is None:
            return []
        return self._emit(self._convert(np.zeros(0, dtype=np.int16), last=True), final=True)

    def _start(self, sample_rate: int, started_at: float) -> None:
        self._input_rate = sample_rate
        self._started_at = started_at
        if sample_rate != SAMPLE_RATE:
            self._resampler = soxr.ResampleStream(
                sample_rate, SAMPLE_RATE, 1, dtype="int16", quality="HQ"
            )
        else:
            self._resampler = _Passthrough()

    def _tolerance(self, frame: PcmFrame, samples: int) -> int:
        """How many samples late a frame may be before silence fills the difference."""
        if frame.clock == Clock.ARRIVAL:
            return round(ARRIVAL_GAP * self._input_rate)
        return samples // 2

    def _expected_next(self) -> float:
        return self._started_at + self._samples_in / self._input_rate

    def _convert(self, mono: np.ndarray, *, last: bool) -> np.ndarray:
        assert self._resampler is not None
        return self._resampler.resample_chunk(mono, last=last)

    def _emit(self, samples: np.ndarray, *, final: bool) -> list[AudioChunk]:
        """Cut resampled audio into chunks of `MIN_CHUNK_SAMPLES` to `MAX_CHUNK_SAMPLES`;
        what is too short to send waits for more, unless the segment ends."""
        if len(self._held):
            samples = np.concatenate([self._held, samples])
        ready = len(samples)
        if not final and len(samples) % MAX_CHUNK_SAMPLES < MIN_CHUNK_SAMPLES:
            ready -= len(samples) % MAX_CHUNK_SAMPLES
        self._held = samples[ready:]
        chunks = []
        for start in range(0, ready, MAX_CHUNK_SAMPLES):
            piece = samples[start : min(start + MAX_CHUNK_SAMPLES, ready)]
            chunks.append(
                AudioChunk(
                    pcm=piece.astype("<i2", copy=False).tobytes(),
                    captured_at=self._started_at + self._samples_out / SAMPLE_RATE,
                )
            )
            self._samples_out += len(piece)
        return chunks


def _downmix(samples: np.ndarray) -> np.ndarray:
    """Average the channels in integers (numpy's float `mean` costs several times more)."""
    if samples.ndim == 1 or samples.shape[1] == 1:
        return samples.reshape(-1).astype(np.int16, copy=False)
    total = samples.sum(axis=1, dtype=np.int32)
    return (total // samples.shape[1]).astype(np.int16)
