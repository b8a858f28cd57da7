"""Spoken sentences for testbed participants, synthesised locally with espeak-ng, and
found again in what a receiver got: where each participant's voice begins and ends."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from unmixed.chromium import FAKE_MICROPHONE_RATE, write_microphone
from unmixed.testbed.audio import load_wav


def synthesize(text: str, voice: str, path: Path) -> Path:
    """Write `text` spoken in `voice` (an espeak-ng voice, e.g. "en-us+f3") to a WAV file.
    The text goes in on stdin: a sentence starting with "-" is not an option."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing; run scripts/setup")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), "--stdin"],
        input=text.encode(),
        check=True,
        capture_output=True,
    )
    return path


PAUSE_SECONDS = 1.0
"""After each saying of a looped sentence: a speaker who never paused would be one
endless utterance to a transcriber (and to `speech_off`)."""


def saying(text: str, voice: str) -> np.ndarray:
    """`text` spoken in `voice`, then `PAUSE_SECONDS` of silence, at 48 kHz: one saying
    of a sentence a testbed participant repeats."""
    with tempfile.TemporaryDirectory(prefix="unmixed-say-") as folder:
        spoken = load_wav(synthesize(text, voice, Path(folder) / "said.wav"))
    pause = np.zeros(round(PAUSE_SECONDS * FAKE_MICROPHONE_RATE), dtype=np.int16)
    return np.concatenate([spoken, pause])


def spoken_track(
    folder: Path, name: str, voice: str, lines: list[tuple[str, float]], seconds: float
) -> Path:
    """A WAV with each (sentence, start second) said once, silence around them, at least
    `seconds` long: the testbed loops it, and it must not come round again."""
    said = [
        (load_wav(synthesize(text, voice, folder / f"{name}-{i}.wav")), at)
        for i, (text, at) in enumerate(lines)
    ]
    length = max(int(at * FAKE_MICROPHONE_RATE) + len(audio) for audio, at in said)
    track = np.zeros(max(length, int(seconds * FAKE_MICROPHONE_RATE)), dtype=np.int16)
    for audio, at in said:
        offset = int(at * FAKE_MICROPHONE_RATE)
        track[offset : offset + len(audio)] = audio
    return write_microphone(folder / f"{name}.wav", track)


def voiced_spans(audio: np.ndarray, gap: float = 0.6) -> list[tuple[float, float]]:
    """Where the voice is in a received timeline: loud 20 ms frames, joined across pauses
    shorter than `gap`."""
    frames = audio[: len(audio) // 320 * 320].astype(np.float64).reshape(-1, 320)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 300) * 0.02
    spans: list[tuple[float, float]] = []
    for moment in loud:
        if spans and moment - spans[-1][1] <= gap:
            spans[-1] = (spans[-1][0], moment + 0.02)
        else:
            spans.append((moment, moment + 0.02))
    return spans
