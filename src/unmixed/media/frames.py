"""The audio a platform hands to the media path."""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

INT16_FULL_SCALE = 32767


class Clock(StrEnum):
    """Where a frame's `captured_at` comes from, which decides what a gap means."""

    MEDIA = "media"
    """A sample counter of the source (RTP timestamps): a jump is audio that was lost."""
    ARRIVAL = "arrival"
    """When the frame reached the bot (Zoom callbacks, a browser's capture): jitter of
    tens of milliseconds is normal and says nothing about the audio, so the timeline
    is built from sample counts and the arrival time only anchors it."""


@dataclass(frozen=True)
class PcmFrame:
    """Signed 16-bit PCM, shape (samples, channels), at the platform's rate.

    Float samples in [-1, 1] (a browser's, a decoder's) are converted once, here;
    any other sample type is refused rather than turned into noise or silence.
    """

    samples: np.ndarray
    sample_rate: int
    captured_at: float
    """Unix time of the first sample, on `clock`."""
    clock: Clock = Clock.MEDIA

    def __post_init__(self) -> None:
        samples = self.samples
        if samples.dtype.kind == "f":
            samples = (np.clip(samples, -1.0, 1.0) * INT16_FULL_SCALE).astype(np.int16)
        elif samples.dtype != np.int16:
            raise TypeError(f"PCM samples must be int16 or float, not {samples.dtype}")
        if samples.ndim == 1:
            samples = samples.reshape(-1, 1)
        if samples.ndim != 2:
            raise ValueError(f"PCM samples must be (samples, channels), not {samples.shape}")
        if self.sample_rate <= 0:
            raise ValueError(f"a sample rate must be positive, not {self.sample_rate}")
        object.__setattr__(self, "samples", samples)
