"""`unmixed bench`: how fast and how cheap the bot is, measured end to end on the testbed.

Each participant beeps once a second (a different pitch each, onsets
staggered). Latency is from the moment a beep's first frame left the
participant (handed to its Opus encoder) to the moment the receiver got the
message holding that beep's onset, so it includes encoding, the SFU, the bot's
decode, resample and websocket send, and the receiver's parse. Each participant
also mutes once, for the unmute-to-first-message time. The bot's CPU and memory
are read from its whole process tree.

The same measures run for the browser bot on the testbed's web meeting page,
and are printed beside the native adapter's.
"""

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

from unmixed.local import FINISHED, local_stack
from unmixed.receiver import ParticipantAudio
from unmixed.testbed.audio import FRAME_SAMPLES, FrameSent, LoopingAudioTrack, beeps
from unmixed.testbed.meeting import TestbedMeeting, TrackFactory
from unmixed.testbed.scenario import Scenario, ScenarioParticipant
from unmixed.wire.realtime import SAMPLE_RATE

BEEP_PERIOD = 1.0
BEEP_SECONDS = 0.1
ONSET_LEVEL = 1500
"""Sample magnitude that marks a beep's onset (beeps peak near 9800, silence is ~0)."""

WARM_UP = 2.0
"""Seconds after the start before CPU is sampled: every stream is flowing by then."""


@dataclass
class BeepLog:
    """Wall-clock moments at which a participant's beeps left it."""

    onsets: list[float] = field(default_factory=list)


def _bench_scenario(participants: int, seconds: float) -> Scenario:
    """Everyone speaks from the start; participant i mutes for 1 s at 3 + i/N * (seconds - 6)."""
    spread = max(seconds - 6.0, 1.0)
    return Scenario(
        participants=[
            ScenarioParticipant(
                name=f"speaker-{index + 1}",
                tone_hz=400 + 100 * index,
                leave_at=seconds,
                muted=[(3 + spread * index / participants, 4 + spread * index / participants)],
            )
            for index in range(participants)
        ],
        duration=seconds + 1,
    )


def _beeping_tracks(participants: int, logs: dict[str, BeepLog]) -> TrackFactory:
    """Participant i beeps i/N of a period after participant 0, so onsets never coincide."""

    def make(spec: ScenarioParticipant) -> LoopingAudioTrack:
        index = int(spec.name.rsplit("-", 1)[1]) - 1
        loop = beeps(spec.tone_hz or 440, BEEP_SECONDS, BEEP_PERIOD)
        shift = round(index / participants * len(loop) / FRAME_SAMPLES) * FRAME_SAMPLES
        log = logs[spec.name] = BeepLog()
        return LoopingAudioTrack(
            np.roll(loop, shift), _onsets_of_rolled_loop(log, shift, len(loop))
        )

    return make


def _onsets_of_rolled_loop(log: BeepLog, shift: int, length: int) -> FrameSent:
    def frame_sent(loop_offset: int, wall_time: float) -> None:
        if (loop_offset - shift) % length == 0:
            log.onsets.append(wall_time)

    return frame_sent


def _onset_latencies(audio: ParticipantAudio, sent: list[float]) -> list[float]:
    timeline = np.abs(audio.timeline().astype(np.int32))
    loud = timeline > ONSET_LEVEL
    quiet_before = int(0.3 * SAMPLE_RATE)
    latencies = []
    for index in np.flatnonzero(loud):
        if index < quiet_before or loud[index - quiet_before : index].any():
            continue
        arrival = _arrival_holding(audio, int(index))
        earlier = [moment for moment in sent if moment <= arrival]
        if earlier and arrival - earlier[-1] < BEEP_PERIOD / 2:
            latencies.append(arrival - earlier[-1])
    return latencies


def _arrival_holding(audio: ParticipantAudio, sample: int) -> float:
    for connection in audio.connections:
        for arrival in connection.arrivals:
            start = round(arrival.relative * SAMPLE_RATE)
            if start <= sample < start + arrival.samples:
                return arrival.arrived_at
    raise LookupError(f"no message holds sample {sample}")


def _bot_process() -> psutil.Process:
    for child in psutil.Process().children(recursive=True):
        if "unmixed.bots.runner" in " ".join(child.cmdline()):
            return child
    raise LookupError("the bot process is not running")


def _percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100)) if values else float("nan")


class ProcessTreeWatch:
    """CPU time and peak memory of a process and all its descendants over a window.

    A browser bot is a dozen processes (Chromium's browser, renderer, GPU,
    network and audio processes, Playwright's driver). Their RSS summed counts
    shared pages once per process, so memory is PSS summed, which shares them
    out; CPU is every process's time, counting ones that came or went.
    """

    def __init__(self, root: psutil.Process) -> None:
        self._root = root
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._started = self._ended = time.monotonic()
        self.peak_rss = 0
        self.peak_pss = 0
        self.processes = 0
        self._first = self._cpu_and_memory()

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _cpu_and_memory(self) -> dict[int, float]:
        cpu: dict[int, float] = {}
        rss = pss = 0
        tree = self._tree()
        for process in tree:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            cpu[process.pid] = times.user + times.system
            rss += memory.rss
            pss += memory.pss
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.processes = max(self.processes, len(tree))
        return cpu

    def sample(self) -> None:
        self._last = {**self._last, **self._cpu_and_memory()}
        self._ended = time.monotonic()

    @property
    def cpu_percent(self) -> float:
        elapsed = self._ended - self._started
        spent = sum(t - self._first.get(pid, 0.0) for pid, t in self._last.items())
        return 100 * spent / elapsed if elapsed else 0.0


async def _watch_while_speaking(process: psutil.Process, seconds: float) -> ProcessTreeWatch:
    """Sample the bot once a second while everyone speaks, after the warm-up."""
    await asyncio.sleep(WARM_UP)
    watch = ProcessTreeWatch(process)
    for _ in range(int(seconds - WARM_UP - 1)):
        await asyncio.sleep(1.0)
        watch.sample()
    return watch


def _unmute_delays(audio: ParticipantAudio, unmutes: list[float]) -> list[float]:
    delays = []
    for unmuted in unmutes:
        firsts = [
            c.first_arrival
            for c in audio.connections
            if c.first_arrival and c.first_arrival >= unmuted
        ]
        if firsts:
            delays.append(min(firsts) - unmuted)
    return delays


@dataclass
class Figures:
    """What one bench run measured for one way of attending the meeting."""

    participants: int
    latencies: list[float]
    watch: ProcessTreeWatch
    unmute_delays: list[float]


async def _measure(participants: int, seconds: float, *, through_browser: bool) -> Figures:
    logs: dict[str, BeepLog] = {}
    scenario = _bench_scenario(participants, seconds)
    with tempfile.TemporaryDirectory(prefix="unmixed-bench-") as work:
        async with local_stack(Path(work)) as stack:
            tracks = _beeping_tracks(participants, logs)
            async with TestbedMeeting(stack.janus.url, scenario, track_for=tracks) as meeting:
                url = meeting.web_meeting_url if through_browser else meeting.meeting_url
                bot = await stack.send_bot(url, bot_name="bench")
                watching = asyncio.create_task(_watch_while_speaking(_bot_process(), seconds))
                await meeting.play()
                watch = await watching
            await stack.client.wait_for_status(bot.id, FINISHED, timeout=60)
    receiver = stack.receiver
    latencies = [
        latency
        for name, log in logs.items()
        for latency in _onset_latencies(receiver.participant(name), log.onsets)
    ]
    unmute_delays = [
        delay
        for name, participant in meeting.participants.items()
        for delay in _unmute_delays(receiver.participant(name), participant.log.unmutes)
    ]
    return Figures(participants, latencies, watch, unmute_delays)


async def run_bench(
    participants: int, seconds: float, console: Console, *, browser_speakers: int
) -> None:
    """The native testbed adapter with `participants` speakers, then (unless
    `browser_speakers` is 0) the browser bot on the testbed's web page."""
    runs = {"native (aiortc)": await _measure(participants, seconds, through_browser=False)}
    if browser_speakers:
        runs["browser (Chromium)"] = await _measure(browser_speakers, seconds, through_browser=True)
    console.print(_report(seconds, runs))


def _report(seconds: float, runs: dict[str, Figures]) -> Table:
    def ms(value: float) -> str:
        return f"{value * 1000:.1f} ms"

    table = Table(title=f"unmixed bench: {seconds:.0f} s of speech on {psutil.cpu_count()} cores")
    table.add_column("measure")
    for name in runs:
        table.add_column(name, justify="right")
    rows: dict[str, list[str]] = {}

    def row(label: str, value: str) -> None:
        rows.setdefault(label, []).append(value)

    for figures in runs.values():
        watch = figures.watch
        row("speaking participants", str(figures.participants))
        row("latency p50, participant -> receiver", ms(_percentile(figures.latencies, 0.5)))
        row("latency p95", ms(_percentile(figures.latencies, 0.95)))
        row("latency p99", ms(_percentile(figures.latencies, 0.99)))
        row("beep onsets measured", str(len(figures.latencies)))
        row("bot CPU, all streams", f"{watch.cpu_percent:.1f} % of one core")
        row("bot CPU per stream", f"{watch.cpu_percent / figures.participants:.2f} % of one core")
        row("bot processes", str(watch.processes))
        row("bot memory, PSS summed, peak", f"{watch.peak_pss / 2**20:.0f} MiB")
        row("bot memory, RSS summed, peak", f"{watch.peak_rss / 2**20:.0f} MiB")
        row("unmute -> first message p50", ms(_percentile(figures.unmute_delays, 0.5)))
        row(
            "unmute -> first message max",
            ms(max(figures.unmute_delays, default=float("nan"))),
        )
        row("unmutes measured", str(len(figures.unmute_delays)))
    for label, values in rows.items():
        table.add_row(label, *values)
    return table
