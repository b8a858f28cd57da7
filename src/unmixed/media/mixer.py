"""Everyone's audio summed onto the recording's timeline, for `audio_mixed_raw`.

Each participant's 16 kHz chunks already carry their place on the timeline, so
mixing is adding them into fixed blocks of time. A block is sent once every
participant's audio for it has had time to arrive (`HOLD_SECONDS` after the
block ends); a chunk for a block already sent is dropped and counted. Nobody
speaking is silence, so the mixed stream is continuous from the start of the
recording to its end.
"""

import math
from collections.abc import Iterable

import numpy as np

from unmixed.media.segment import AudioChunk
from unmixed.wire.realtime import SAMPLE_RATE

BLOCK_SECONDS = 0.1
BLOCK_SAMPLES = round(BLOCK_SECONDS * SAMPLE_RATE)
HOLD_SECONDS = 0.6
"""How long a block waits for late audio: a participant's chunk holds up to 0.5 s
(usually 40-70 ms), and arrives within tens of milliseconds of its last sample."""
MAX_AHEAD_SECONDS = 5.0
"""Audio stamped further ahead of the mix than this has a broken clock: left out."""


class Mixer:
    def __init__(self, started_at: float) -> None:
        """`started_at`: Unix time of the recording's start, sample 0 of the mix."""
        self._started_at = started_at
        self._blocks: dict[int, np.ndarray] = {}
        self._next_block = 0
        self.late_samples = 0
        """Samples left out: too late for their block, or stamped far ahead."""

    def add(self, chunks: Iterable[AudioChunk]) -> None:
        ahead_limit = (self._next_block * BLOCK_SECONDS + MAX_AHEAD_SECONDS) * SAMPLE_RATE
        for chunk in chunks:
            pcm = np.frombuffer(chunk.pcm, dtype="<i2")
            start = round((chunk.captured_at - self._started_at) * SAMPLE_RATE)
            if start > ahead_limit:
                self.late_samples += len(pcm)
                continue
            self._add_at(max(start, 0), pcm[max(0, -start) :])

    def ready(self, now: float) -> list[AudioChunk]:
        """The blocks whose wait for late audio is over at Unix time `now`."""
        elapsed = now - self._started_at - HOLD_SECONDS
        return self._take(math.floor(elapsed / BLOCK_SECONDS))

    def rest(self) -> list[AudioChunk]:
        """At the end: every block that holds audio, up to the last of them."""
        return self._take(max(self._blocks, default=self._next_block - 1) + 1)

    def _add_at(self, sample: int, pcm: np.ndarray) -> None:
        while len(pcm):
            block, offset = divmod(sample, BLOCK_SAMPLES)
            length = min(len(pcm), BLOCK_SAMPLES - offset)
            if block < self._next_block:
                self.late_samples += length
            else:
                mix = self._blocks.setdefault(block, np.zeros(BLOCK_SAMPLES, dtype=np.int32))
                mix[offset : offset + length] += pcm[:length]
            sample, pcm = sample + length, pcm[length:]

    def _take(self, until: int) -> list[AudioChunk]:
        """Blocks from the next unsent one up to, not including, `until`."""
        chunks = []
        for block in range(self._next_block, until):
            mix = self._blocks.pop(block, None)
            pcm = np.zeros(BLOCK_SAMPLES, dtype=np.int16) if mix is None else _clip(mix)
            chunks.append(
                AudioChunk(
                    pcm=pcm.astype("<i2", copy=False).tobytes(),
                    captured_at=self._started_at + block * BLOCK_SECONDS,
                )
            )
        self._next_block = max(self._next_block, until)
        return chunks


def _clip(mix: np.ndarray) -> np.ndarray:
    return np.clip(mix, -32768, 32767).astype(np.int16)
