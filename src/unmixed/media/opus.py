"""Opus straight to the wire's 16 kHz mono, with libopus's own loss concealment.

libopus decodes at 8, 12, 16, 24 or 48 kHz natively: asking it for 16 kHz
skips both the 48 kHz frame and a resampler pass (a third of the decoder's work
and all of the resampler's). PyAV's `libopus` decoder always opens libopus at
48 kHz, so this calls libopus itself, through `opuslib-next`'s bindings to
Debian's `libopus0`, into a buffer of our own.
"""

import ctypes

import numpy as np
from opuslib_next.api import decoder as libopus
from opuslib_next.exceptions import OpusError

from unmixed.wire.realtime import SAMPLE_RATE

MAX_FRAME_SAMPLES = SAMPLE_RATE * 120 // 1000
"""An Opus packet holds at most 120 ms."""

CONCEAL_STEP_SAMPLES = SAMPLE_RATE * 25 // 10_000
"""Concealment comes in multiples of 2.5 ms, as libopus requires."""


class UndecodablePacket(Exception):
    """libopus refused a packet; the stream goes on with the next one."""


class OpusDecoder:
    """One Opus stream's decoder: packets in, mono int16 at 16 kHz out."""

    def __init__(self) -> None:
        self._state = libopus.create_state(SAMPLE_RATE, 1)
        self._pcm = np.empty(MAX_FRAME_SAMPLES, dtype=np.int16)
        self._out = self._pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))

    def decode(self, payload: bytes) -> np.ndarray:
        """The samples of one packet (a copy: the decoder reuses its buffer)."""
        if not payload:
            raise UndecodablePacket("an empty packet would tell libopus that one was lost")
        return self._run(payload, MAX_FRAME_SAMPLES, fec=False)

    def conceal(self, samples: int, next_payload: bytes | None = None) -> np.ndarray:
        """About `samples` of audio in place of packets that never came, rounded down to
        2.5 ms: recovered from `next_payload`'s in-band FEC where its sender put some
        there, otherwise extrapolated by libopus's packet-loss concealment."""
        samples = min(samples, MAX_FRAME_SAMPLES) // CONCEAL_STEP_SAMPLES * CONCEAL_STEP_SAMPLES
        if samples <= 0:
            return self._pcm[:0].copy()
        if next_payload:
            return self._run(next_payload, samples, fec=True)
        return self._run(None, samples, fec=False)

    def _run(self, payload: bytes | None, samples: int, *, fec: bool) -> np.ndarray:
        length = len(payload) if payload else 0
        decoded = libopus.libopus_decode(self._state, payload, length, self._out, samples, fec)
        if decoded < 0:
            raise UndecodablePacket(str(OpusError(decoded)))
        return self._pcm[:decoded].copy()

    def __del__(self) -> None:
        libopus.destroy(self._state)
