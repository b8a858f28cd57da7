"""The `unmixed testbed` command as a user runs it: one JSON line, then a clean exit."""

import asyncio
import json
import signal
import sys
from pathlib import Path

import psutil

from unmixed.wire.meeting_url import Platform, parse_meeting_url


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
    assert set(announced) == {"meeting_url"}
    assert parse_meeting_url(announced["meeting_url"]).platform == Platform.TESTBED
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
