"""What synthetic participants say: looped PCM, paced in real time like a microphone."""

import asyncio
import fractions
import time
import wave
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import soxr
from aiortc.mediastreams import MediaStreamTrack

SEND_RATE = 48_000
"""Opus in WebRTC runs at 48 kHz; sending at that rate spares the encoder a resample."""

FRAME_SAMPLES = 960
"""20 ms, the frame size WebRTC clients send."""

FrameSent = Callable[[int, float], None]
"""Told, for every frame handed to the encoder, its offset in the loop and the wall time."""


def tone(frequency_hz: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    """A sine lasting whole periods at 48 kHz, so it loops without a click."""
    periods = max(1, round(frequency_hz * seconds))
    length = round(periods * SEND_RATE / frequency_hz)
    phase = 2 * np.pi * frequency_hz * np.arange(length) / SEND_RATE
    return (amplitude * 32767 * np.sin(phase)).astype(np.int16)


def beeps(frequency_hz: float, beep_seconds: float, period_seconds: float) -> np.ndarray:
    """A beep starting every `period_seconds`, each onset on a frame boundary (for latency)."""
    period = round(period_seconds * SEND_RATE / FRAME_SAMPLES) * FRAME_SAMPLES
    loop = np.zeros(period, dtype=np.int16)
    beep = tone(frequency_hz, beep_seconds)[: min(period, round(beep_seconds * SEND_RATE))]
    loop[: len(beep)] = beep
    return loop


def load_wav(path: Path) -> np.ndarray:
    """A WAV file of any rate and channel count as mono 16-bit PCM at 48 kHz."""
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128) / 128
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float32) / np.iinfo(dtype).max
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported; use 8, 16 or 32-bit PCM")
    mono = samples.reshape(-1, channels).mean(axis=1)
    resampled = soxr.resample(mono, rate, SEND_RATE) if rate != SEND_RATE else mono
    return (np.clip(resampled, -1, 1) * 32767).astype(np.int16)


class LoopingAudioTrack(MediaStreamTrack):
    """An aiortc audio track that plays `samples` in a loop, one 20 ms frame per 20 ms."""

    kind = "audio"

    def __init__(self, samples: np.ndarray, on_frame_sent: FrameSent | None = None) -> None:
        super().__init__()
        if len(samples) == 0:
            raise ValueError("a looping track needs at least one sample")
        repeats = -(-FRAME_SAMPLES // len(samples))
        self._samples = np.tile(samples, repeats) if repeats > 1 else samples
        self._on_frame_sent = on_frame_sent
        self._pts = 0
        self._started_at: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._started_at is None:
            self._started_at = time.monotonic()
        due = self._started_at + self._pts / SEND_RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        offset = self._pts % len(self._samples)
        chunk = np.take(self._samples, np.arange(offset, offset + FRAME_SAMPLES), mode="wrap")
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk.tobytes())
        frame.sample_rate = SEND_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SEND_RATE)
        self._pts += FRAME_SAMPLES
        if self._on_frame_sent is not None:
            self._on_frame_sent(offset, time.time())
        return frame
