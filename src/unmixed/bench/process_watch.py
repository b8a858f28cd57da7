"""CPU and memory of the bots' processes, read from the operating system, not from the bots."""

import asyncio
import time
from dataclasses import dataclass

import psutil

RUNNER_MODULE = "unmixed.bots.runner"

WARM_UP = 2.0
"""Seconds after the start before CPU is sampled: every stream is flowing by then."""


def bot_processes(bot_ids: list[str]) -> dict[str, psutil.Process]:
    """Each bot's process among this one's descendants: the runner, named by its bot id.

    A bot is found by its command line, since that is all the operating system
    knows of it; a bot whose process cannot be found is left out."""
    found: dict[str, psutil.Process] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if RUNNER_MODULE not in command:
            continue
        for bot_id in bot_ids:
            if bot_id in command:
                found[bot_id] = child
    return found


def janus_process() -> psutil.Process:
    """The testbed's SFU, a child of this process; its share of the machine is no bot's."""
    for child in psutil.Process().children():
        try:
            if child.name() == "janus":
                return child
        except psutil.NoSuchProcess:
            continue
    raise LookupError("Janus is not running")


def bot_process(bot_id: str) -> psutil.Process:
    """The one bot's process; LookupError if it is not running."""
    found = bot_processes([bot_id])
    if bot_id not in found:
        raise LookupError(f"the process of bot {bot_id} is not running")
    return found[bot_id]


class ProcessTreeWatch:
    """CPU time and peak memory of a process and all its descendants over a window.

    A browser bot is a dozen processes (Chromium's browser, renderer, GPU,
    network and audio processes, Playwright's driver). Their RSS summed counts
    shared pages once per process, so memory is PSS summed, which shares them
    out; CPU is every process's time, counting ones that came or went.
    """

    def __init__(self, root: psutil.Process) -> None:
        self._root = root
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
        """Percent of one core over the window (above 100 when several cores were busy)."""
        elapsed = self._ended - self._started
        spent = sum(t - self._first.get(pid, 0.0) for pid, t in self._last.items())
        return 100 * spent / elapsed if elapsed else 0.0


@dataclass(frozen=True)
class Watched:
    """Each watched process tree, this process, and the whole machine, over one window."""

    watches: list[ProcessTreeWatch]
    machine_cpu_percent: float
    """Percent of all the machine's cores together (100: every core busy)."""
    own_cpu_percent: float
    """This process (the speakers, the API and the receiver), in percent of one core."""


async def watch_while_speaking(processes: list[psutil.Process], seconds: float) -> Watched:
    """Sample each process tree once a second while everyone speaks, after the warm-up."""
    await asyncio.sleep(WARM_UP)
    watches = [ProcessTreeWatch(process) for process in processes]
    psutil.cpu_percent()
    started, own_started = time.monotonic(), time.process_time()
    for _ in range(int(seconds - WARM_UP - 1)):
        await asyncio.sleep(1.0)
        for watch in watches:
            watch.sample()
    own = 100 * (time.process_time() - own_started) / (time.monotonic() - started)
    return Watched(watches, psutil.cpu_percent(), own)
