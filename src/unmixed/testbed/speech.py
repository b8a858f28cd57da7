"""Spoken sentences for testbed participants, synthesised locally with espeak-ng."""

import shutil
import subprocess
from pathlib import Path


def synthesize(text: str, voice: str, path: Path) -> Path:
    """Write `text` spoken in `voice` (an espeak-ng voice, e.g. "en-us+f3") to a WAV file."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing; run scripts/setup")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path
