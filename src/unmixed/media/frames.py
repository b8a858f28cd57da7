"""The audio a platform hands to the media path."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PcmFrame:
    """Interleaved signed 16-bit PCM, shape (samples, channels), at the platform's rate."""

    samples: np.ndarray
    sample_rate: int
    captured_at: float
    """Unix time of the first sample, from the media clock (RTP), not from arrival."""
