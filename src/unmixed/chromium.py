"""Debian's Chromium, started headless through Playwright, for browser bots and participants.

Playwright is only the remote control: the browser is the `chromium` package
the setup script installs with apt, never a build Playwright downloads. It runs
as a child of Playwright's driver, itself a child of this process, so it lives
in the bot's process tree and goes when the bot does.
"""

import os
import shutil
import tempfile
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from playwright.async_api import Browser, async_playwright

CHROMIUM_PATH = Path(os.environ.get("UNMIXED_CHROMIUM", "/usr/bin/chromium"))
FAKE_MICROPHONE_RATE = 48_000

PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
)
"""The features Playwright turns off itself. Chromium honours only the last
`--disable-features`, so ours must repeat them."""

DISABLED_FEATURES = (
    *PLAYWRIGHT_DISABLED_FEATURES,
    "LocalNetworkAccessChecks",
    "SpareRendererForSitePerProcess",
    "AudioServiceOutOfProcess",
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
)
"""Local Network Access would stop a meeting site's page from reaching the bot's
own channel on 127.0.0.1 (`ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS`). A spare
renderer kept warm for the next tab, an audio process of its own and a renderer
for the address bar's popups (two WebUI pages, even headless) cost a bot that
never opens a second tab, plays a sound or types an address 120-160 MiB; so do
the GPU process and the zygotes (`MEMORY_SWITCHES`)."""

MEMORY_SWITCHES = ("--in-process-gpu", "--no-zygote")
"""`--no-zygote` needs `--no-sandbox`, which Playwright passes already."""

DRIVER_NODE_OPTIONS = "--max-semi-space-size=1"
"""Playwright's driver (Node) sees a copy of every capture message; small young
generations keep that garbage from growing its heap."""


class ChromiumMissing(RuntimeError):
    """Chromium is installed by the setup script (`apt-get install chromium`)."""


def write_microphone(path: Path, samples: np.ndarray) -> Path:
    """A WAV that Chromium's fake microphone loops: mono 16-bit PCM at 48 kHz."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(FAKE_MICROPHONE_RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def write_silence(folder: Path, seconds: float = 1.0) -> Path:
    """Silence for the bot's fake microphone: Chromium's own fake device beeps."""
    samples = np.zeros(int(seconds * FAKE_MICROPHONE_RATE), dtype=np.int16)
    return write_microphone(folder / "silence.wav", samples)


def chromium_arguments(microphone: Path, *, loopback_ice: bool) -> list[str]:
    """Command-line switches for a meeting client with a fake microphone and no one watching."""
    arguments = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
        f"--disable-features={','.join(DISABLED_FEATURES)}",
        *MEMORY_SWITCHES,
    ]
    if loopback_ice:
        arguments.append("--allow-loopback-in-peer-connection")
    return arguments


def browser_environment(home: Path) -> dict[str, str | float | bool]:
    """All Chromium gets of the bot's environment: it runs a meeting site's code,
    and the bot's environment holds its database URL and platform secrets."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }


@asynccontextmanager
async def launch_chromium(
    *, microphone: Path | None = None, loopback_ice: bool = False
) -> AsyncIterator[Browser]:
    """Start Chromium; it is closed, with its driver, when the block ends.

    `microphone` is a 48 kHz mono 16-bit WAV the fake microphone loops (silence
    when None). `loopback_ice` lets WebRTC use 127.0.0.1, which only a meeting on
    this machine (the testbed) needs.
    """
    if shutil.which(str(CHROMIUM_PATH)) is None:
        raise ChromiumMissing(f"no Chromium at {CHROMIUM_PATH}; run scripts/setup")
    with tempfile.TemporaryDirectory(prefix="unmixed-chromium-") as scratch:
        wav = microphone if microphone is not None else write_silence(Path(scratch))
        os.environ.setdefault("NODE_OPTIONS", DRIVER_NODE_OPTIONS)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM_PATH),
                headless=True,
                args=chromium_arguments(wav, loopback_ice=loopback_ice),
                env=browser_environment(Path(scratch)),
            )
            try:
                yield browser
            finally:
                await browser.close()
