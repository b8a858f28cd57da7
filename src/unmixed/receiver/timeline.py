"""Where a participant's received audio is kept: in memory, or spooled to a file.

Either way it sits on the recording's timeline (sample index = relative * 16000),
so gaps read back as silence. A receiver that runs for hours spools to disk:
memory would grow by about 115 MB per participant-hour.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

BLOCK_SAMPLES = 16_000 * 10
"""Reads and WAV writes move at most ten seconds at a time."""


class Timeline(Protocol):
    length: int
    """Samples from relative 0 to the end of the latest audio."""

    def write(self, start: int, pcm: np.ndarray) -> None: ...

    def read(self, start: int, end: int) -> np.ndarray: ...

    def close(self) -> None: ...


def blocks(timeline: Timeline, length: int) -> Iterator[np.ndarray]:
    """The whole timeline in blocks, padded with silence to `length` samples."""
    for start in range(0, max(length, timeline.length), BLOCK_SAMPLES):
        end = min(start + BLOCK_SAMPLES, max(length, timeline.length))
        block = timeline.read(start, min(end, timeline.length))
        if len(block) < end - start:
            block = np.concatenate([block, np.zeros(end - start - len(block), dtype=np.int16)])
        yield block


class MemoryTimeline:
    def __init__(self) -> None:
        self._samples = np.zeros(0, dtype=np.int16)
        self.length = 0

    def write(self, start: int, pcm: np.ndarray) -> None:
        end = start + len(pcm)
        if end > len(self._samples):
            grown = np.zeros(max(end, 2 * len(self._samples)), dtype=np.int16)
            grown[: len(self._samples)] = self._samples
            self._samples = grown
        self._samples[start:end] = pcm
        self.length = max(self.length, end)

    def read(self, start: int, end: int) -> np.ndarray:
        return self._samples[start : min(end, self.length)].copy()

    def close(self) -> None:
        """Nothing to release."""


class SpooledTimeline:
    """Raw S16LE in a file; writing past the end leaves a hole that reads back as zeros."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("w+b")
        self.length = 0

    def write(self, start: int, pcm: np.ndarray) -> None:
        self._file.seek(2 * start)
        self._file.write(pcm.astype("<i2", copy=False).tobytes())
        self.length = max(self.length, start + len(pcm))

    def read(self, start: int, end: int) -> np.ndarray:
        self._file.flush()
        self._file.seek(2 * start)
        data = self._file.read(2 * max(0, min(end, self.length) - start))
        return np.frombuffer(data, dtype="<i2").astype(np.int16)

    def close(self) -> None:
        self._file.close()
