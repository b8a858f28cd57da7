"""The commands as a user runs them: `unmixed testbed` and `unmixed receive`."""

import asyncio
import json
import signal
import sys
import wave
from pathlib import Path

import numpy as np
import psutil

from tests.audio import dominant_frequency, voiced
from unmixed.client import AsyncUnmixedClient
from unmixed.net import free_port
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.meeting_url import Platform, parse_meeting_url
from unmixed.wire.status import StatusCode


async def start_testbed(scenario: dict, folder: Path) -> asyncio.subprocess.Process:
    path = folder / "scenario.json"
    path.write_text(json.dumps(scenario))
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "unmixed.cli",
        "testbed",
        str(path),
        stdout=asyncio.subprocess.PIPE,
    )


async def first_line(process: asyncio.subprocess.Process) -> dict:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    return json.loads(line)


async def test_prints_the_meeting_url_then_exits_when_the_scenario_ends(tmp_path: Path) -> None:
    process = await start_testbed(
        {"participants": [{"name": "Ann", "tone_hz": 440}], "duration": 1}, tmp_path
    )
    announced = await first_line(process)
    assert set(announced) == {"meeting_url", "web_meeting_url"}
    assert parse_meeting_url(announced["meeting_url"]).platform == Platform.TESTBED
    assert "/videoroom/" in announced["web_meeting_url"]
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0


async def test_sigterm_stops_everything_it_started(tmp_path: Path) -> None:
    process = await start_testbed(
        {"participants": [{"name": "Ann", "tone_hz": 440}], "duration": 60}, tmp_path
    )
    await first_line(process)
    janus = [c for c in psutil.Process(process.pid).children(recursive=True) if c.name() == "janus"]
    assert len(janus) == 1
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    assert not janus[0].is_running()


async def test_receive_spools_to_disk_and_writes_aligned_wavs_on_ctrl_c(
    client: AsyncUnmixedClient, janus: JanusServer, tmp_path: Path
) -> None:
    port = free_port()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "unmixed.cli",
        "receive",
        "--port",
        str(port),
        "--out",
        str(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    scenario = Scenario.model_validate(
        {
            "participants": [
                {"name": "Low", "tone_hz": 440, "leave_at": 4},
                {"name": "High", "tone_hz": 880, "muted": [[1, 2.5]], "leave_at": 4},
            ],
            "duration": 6,
        }
    )
    async with TestbedMeeting(janus.url, scenario) as meeting:
        bot = await client.create_bot(
            meeting_url=meeting.meeting_url,
            recording_config={
                "audio_separate_raw": {},
                "realtime_endpoints": [
                    {
                        "type": "websocket",
                        "url": f"ws://127.0.0.1:{port}/",
                        "events": ["audio_separate_raw.data"],
                    }
                ],
            },
            automatic_leave={"everyone_left_timeout": 0.5},
        )
        await client.wait_for_status(bot.id, {StatusCode.IN_CALL_RECORDING}, timeout=30)
        await meeting.play()
    await client.wait_for_status(bot.id, {StatusCode.DONE}, timeout=30)
    receiver.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(receiver.wait(), timeout=30) == 0

    wavs = sorted(tmp_path.glob("*.wav"))
    assert len(wavs) == 2
    assert not list(tmp_path.glob("*.pcm")), "spool files are removed"
    audio = {}
    for path in wavs:
        with wave.open(str(path)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
            audio[path.name] = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert len({len(samples) for samples in audio.values()}) == 1, "the files line up"
    peaks = sorted(round(dominant_frequency(voiced(samples))) for samples in audio.values())
    assert abs(peaks[0] - 440) < 3
    assert abs(peaks[1] - 880) < 3
