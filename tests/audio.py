"""Spectral checks on received audio: which tone is this, and how clean is it."""

import itertools

import numpy as np
import pytest

from unmixed.receiver import ConnectionRecord
from unmixed.wire.realtime import SAMPLE_RATE


def dominant_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


def tone_level_db(samples: np.ndarray, frequency_hz: float) -> float:
    """Power at `frequency_hz` (Goertzel), in dB relative to full scale."""
    x = samples.astype(np.float64) / 32768
    n = np.arange(len(x))
    projection = np.abs(np.sum(x * np.exp(-2j * np.pi * frequency_hz * n / SAMPLE_RATE)))
    amplitude = 2 * projection / len(x)
    return float(20 * np.log10(max(amplitude, 1e-12)))


def voiced(samples: np.ndarray) -> np.ndarray:
    """Only the samples that are not digital silence (muted time is zeros)."""
    return samples[samples != 0]


def assert_continuous(connection: ConnectionRecord) -> None:
    """Each message starts where the one before it ended (the contract's timeline rule).
    A connection with fewer than two messages proves nothing, so it fails here."""
    assert len(connection.arrivals) >= 2, "too few messages to judge continuity"
    for previous, current in itertools.pairwise(connection.arrivals):
        assert current.relative == pytest.approx(
            previous.relative + previous.samples / SAMPLE_RATE, abs=2e-6
        )
