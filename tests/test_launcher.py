"""Bots forked from the warm bot process: each is still a process of its own that shows
as `python -m unmixed.bots.runner BOT_ID`, gets the bots' environment, is signalled and
watched through its pidfd, ends with the runner's exit codes, and outlives the warm
process. The bots here join a "meeting" that accepts the connection and never answers,
so they stay joining for as long as a test needs them."""

import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
from pydantic import SecretStr

from tests.stored import new_bot
from unmixed.bots.exits import ALREADY_CLAIMED_EXIT_CODE
from unmixed.bots.launchers import BotJob, LaunchFailed
from unmixed.bots.launchers.local import LocalLauncher
from unmixed.bots.launchers.warm import BotForker
from unmixed.settings import Settings
from unmixed.store import Bots, Database, open_database
from unmixed.store.leases import Leases, LeaveAsked
from unmixed.wire.meeting_url import Platform
from unmixed.wire.status import StatusCode, SubCode

API_KEY = "launcher-test-api-key"
NO_SUCH_BOT = "00000000-0000-4000-8000-000000000000"
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
async def silent_meeting() -> AsyncIterator[str]:
    """A testbed address whose "Janus" takes the connection and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"testbed://127.0.0.1:{port}/1"
        for writer in held:
            writer.close()


@pytest.fixture
async def launcher(settings: Settings) -> AsyncIterator[BotForker]:
    """A launcher whose warm process ends with the test; the bots it started may not."""
    launcher = BotForker(bot_environment(settings))
    try:
        yield launcher
    finally:
        await launcher.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(
        data_dir=tmp_path, database_url=None, testbed_enabled=True, api_key=SecretStr(API_KEY)
    )
    open_database(settings.resolved_database_url(), migrate=True).engine.dispose()
    return settings


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = open_database(settings.resolved_database_url())
    yield database
    database.engine.dispose()


def bot_environment(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.bot_environment()}


async def joining(bots: Bots, bot_id: str) -> None:
    """Wait until the bot's process has claimed it (and is stuck joining)."""
    await reaches(bots, bot_id, {StatusCode.JOINING_CALL})


async def reaches(bots: Bots, bot_id: str, statuses: set[StatusCode]) -> None:
    async with asyncio.timeout(15):
        while True:
            if bots.record(bot_id).status in statuses:
                return
            await asyncio.sleep(0.02)


def assert_left_as_asked(bots: Bots, bot_id: str) -> None:
    ended = bots.get(bot_id)
    assert ended is not None
    assert [(c.code, c.sub_code) for c in ended.status_changes][-2:] == [
        (StatusCode.CALL_ENDED, SubCode.BOT_RECEIVED_LEAVE_CALL),
        (StatusCode.DONE, None),
    ]


def signals_in(pid: int, mask: str) -> set[int]:
    """The signals in one of a process's masks (`SigBlk`, `SigIgn`...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, bits = line.partition(":")
        if name == mask:
            return {number for number in range(1, 65) if int(bits, 16) >> (number - 1) & 1}
    raise LookupError(mask)


def open_sockets() -> set[str]:
    return {
        fd
        for fd in os.listdir("/proc/self/fd")
        if _link(f"/proc/self/fd/{fd}").startswith("socket:")
    }


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except FileNotFoundError:  # the listing's own fd, closed
        return ""


async def test_a_bot_is_a_fork_of_the_warm_process_that_shows_as_the_runner(
    bots: Bots, silent_meeting: str, launcher: BotForker
) -> None:
    bot_id = new_bot(bots, silent_meeting)
    bot = await launcher.launch(bot_id)
    await joining(bots, bot_id)
    process = psutil.Process(bot.pid)
    assert process.cmdline() == [sys.executable, "-m", "unmixed.bots.runner", bot_id]
    warm = process.parent()
    assert warm is not None
    assert "unmixed.bots.zygote" in warm.cmdline()
    assert warm.num_threads() == 1, "a process with threads is not safe to fork"
    assert os.readlink(f"/proc/{bot.pid}/fd/0") == os.devnull, "the channel is not the bot's"
    assert signals_in(warm.pid, "SigBlk") >= STOP_SIGNALS, "held for its bots, not lost"
    assert not STOP_SIGNALS & signals_in(warm.pid, "SigIgn")
    assert not STOP_SIGNALS & signals_in(bot.pid, "SigBlk")

    bot.send_signal(signal.SIGTERM)
    assert await bot.wait() == 0
    assert not bot.running
    bot.send_signal(signal.SIGKILL)  # an ended bot's pidfd is closed: nothing to reach
    assert_left_as_asked(bots, bot_id)


async def test_exit_codes_are_the_runners(
    bots: Bots, silent_meeting: str, launcher: BotForker
) -> None:
    bot_id = new_bot(bots, silent_meeting)
    first = await launcher.launch(bot_id)
    await joining(bots, bot_id)
    again = await launcher.launch(bot_id)
    assert await again.wait() == ALREADY_CLAIMED_EXIT_CODE
    no_such_bot = await launcher.launch(NO_SUCH_BOT)
    assert await no_such_bot.wait() == 1
    first.kill()
    assert await first.wait() == -signal.SIGKILL


async def test_bots_outlive_the_warm_process_which_starts_again(
    bots: Bots, silent_meeting: str, launcher: BotForker
) -> None:
    bot_id = new_bot(bots, silent_meeting)
    bot = await launcher.launch(bot_id)
    await joining(bots, bot_id)
    warm = psutil.Process(bot.pid).parent()
    assert warm is not None
    warm.kill()
    await asyncio.to_thread(warm.wait, 10)
    # No wait for the bot to be re-parented: the kernel re-parents a process's
    # children as it exits, before that process can be waited for.
    assert bot.running
    assert psutil.Process(bot.pid).status() != psutil.STATUS_ZOMBIE

    later = await launcher.launch(new_bot(bots, silent_meeting))
    later_warm = psutil.Process(later.pid).parent()
    assert later_warm is not None
    assert later_warm.pid != warm.pid
    for process in (bot, later):
        process.kill()
    assert await bot.wait() is None, "nobody was left to read its exit code"
    assert await later.wait() == -signal.SIGKILL


async def test_the_local_launcher_gives_its_bots_their_environment_without_the_api_key(
    settings: Settings, bots: Bots, leases: Leases, silent_meeting: str
) -> None:
    launcher = LocalLauncher(bots, leases, settings)
    bot_id = new_bot(bots, silent_meeting)
    await launcher.launch(BotJob(bot_id, Platform.TESTBED))
    await joining(bots, bot_id)
    (process,) = [
        child for child in psutil.Process().children(recursive=True) if bot_id in child.cmdline()
    ]
    environment = process.environ()
    assert "UNMIXED_API_KEY" not in environment
    assert environment["UNMIXED_DATABASE_URL"] == settings.resolved_database_url()
    warm = process.parent()
    assert warm is not None
    await launcher.close()
    assert_left_as_asked(bots, bot_id)
    assert not warm.is_running(), "the warm process ends with the launcher"


async def test_a_bot_asked_to_leave_while_it_starts_never_joins(
    settings: Settings, bots: Bots, leases: Leases, silent_meeting: str
) -> None:
    launcher = LocalLauncher(bots, leases, settings)  # its warm process is only starting
    bot_id = new_bot(bots, silent_meeting)
    assert leases.mark_dispatched(bot_id)
    await launcher.launch(BotJob(bot_id, Platform.TESTBED))
    assert leases.request_leave(bot_id) is LeaveAsked.CALLED_OFF, "no process had claimed it"
    assert_left_as_asked(bots, bot_id)
    await launcher.close()
    bot = bots.get(bot_id)
    assert bot is not None
    assert StatusCode.JOINING_CALL not in [c.code for c in bot.status_changes]


async def test_a_bot_signalled_as_soon_as_it_is_forked_ends(
    bots: Bots, silent_meeting: str, launcher: BotForker
) -> None:
    """The signal reaches the child before it is a bot: blocked, it waits for it."""
    bot = await launcher.launch(new_bot(bots, silent_meeting))
    bot.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        assert await bot.wait() in (0, -signal.SIGTERM)


async def test_bots_start_when_what_the_warm_process_preloads_fails_to_load(
    settings: Settings, bots: Bots, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A broken aiortc costs the testbed's bots, not a Zoom bot (nor any other)."""
    broken = tmp_path / "broken" / "aiortc"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("aiortc is broken here")\n')
    launcher = BotForker({**bot_environment(settings), "PYTHONPATH": str(broken.parent)})
    try:
        bot_id = new_bot(bots, "https://zoom.us/j/123456789?pwd=abc")
        bot = await launcher.launch(bot_id)
        assert await bot.wait() == 0
    finally:
        await launcher.close()
    ended = bots.get(bot_id)
    assert ended is not None
    assert ended.status_changes[-1].sub_code == SubCode.ZOOM_SDK_CREDENTIALS_MISSING
    logged = capfd.readouterr().err
    assert "could not preload" in logged
    assert "aiortc is broken here" in logged


async def test_a_bot_id_too_long_for_the_title_room_is_logged(
    settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    launcher = BotForker(bot_environment(settings))
    try:
        bot = await launcher.launch("x" * 40)
        assert await bot.wait() == 1, "no such bot"
    finally:
        await launcher.close()
    assert "its id is longer than the room" in capfd.readouterr().err


async def test_a_bot_forked_for_a_launch_called_off_is_killed(
    bots: Bots, silent_meeting: str, launcher: BotForker
) -> None:
    first = await launcher.launch(NO_SUCH_BOT)  # the warm process is up
    await first.wait()
    called_off = asyncio.create_task(launcher.launch(new_bot(bots, silent_meeting)))
    await asyncio.sleep(0)  # it has asked for the fork; no answer can have come
    called_off.cancel()
    last = await launcher.launch(NO_SUCH_BOT)  # answered after the called-off one
    warm = psutil.Process(last.pid).parent()
    assert warm is not None
    others = [child for child in warm.children() if child.pid != last.pid]
    _, alive = await asyncio.to_thread(psutil.wait_procs, others, 10)
    assert alive == []
    await last.wait()


async def test_a_launch_as_the_warm_process_dies_is_made_again(
    bots: Bots, silent_meeting: str, launcher: BotForker
) -> None:
    bot_id = new_bot(bots, silent_meeting)
    first = await launcher.launch(bot_id)
    await joining(bots, bot_id)
    warm = psutil.Process(first.pid).parent()
    assert warm is not None
    warm.kill()
    warm.wait(10)  # not awaited: the launcher must not see it end before the launch
    again = await launcher.launch(new_bot(bots, silent_meeting))
    again_warm = psutil.Process(again.pid).parent()
    assert again_warm is not None
    assert again_warm.pid != warm.pid
    for process in (first, again):
        process.kill()
    assert await again.wait() == -signal.SIGKILL
    await first.wait()


async def test_a_warm_process_that_does_not_answer_fails_the_launch_and_is_replaced(
    settings: Settings, bots: Bots, silent_meeting: str
) -> None:
    launcher = BotForker(bot_environment(settings), answer_within=5.0)
    try:
        bot_id = new_bot(bots, silent_meeting)
        first = await launcher.launch(bot_id)
        await joining(bots, bot_id)
        warm = psutil.Process(first.pid).parent()
        assert warm is not None
        warm.suspend()
        with pytest.raises(LaunchFailed, match="did not answer"):
            await launcher.launch(NO_SUCH_BOT)
        await asyncio.to_thread(warm.wait, 10)
        later = await launcher.launch(NO_SUCH_BOT)
        assert await later.wait() == 1
        first.kill()
        await first.wait()
    finally:
        await launcher.close()


async def test_a_warm_process_that_cannot_start_leaves_no_socket_open() -> None:
    before = open_sockets()
    launcher = BotForker({"UNMIXED_BROKEN": "nul\0"})
    with pytest.raises(ValueError, match="null byte") as failed:
        await launcher.launch(NO_SUCH_BOT)
    assert open_sockets() == before, "closed, not left to the traceback `failed` holds"
    assert failed.traceback, "(held until here)"
    await launcher.close()


async def test_a_bot_orphaned_to_the_api_is_reaped_by_it(
    settings: Settings, bots: Bots, silent_meeting: str
) -> None:
    """As where the API is PID 1 (a container with no init): here, a subreaper."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    launcher = BotForker(bot_environment(settings))
    try:
        bot_id = new_bot(bots, silent_meeting)
        bot = await launcher.launch(bot_id)
        await joining(bots, bot_id)
        warm = psutil.Process(bot.pid).parent()
        assert warm is not None
        warm.kill()
        await asyncio.to_thread(warm.wait, 10)
        assert psutil.Process(bot.pid).ppid() == os.getpid()
        bot.kill()
        assert await bot.wait() == -signal.SIGKILL, "read as it was reaped"
        assert not psutil.pid_exists(bot.pid), "no zombie left"
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        await launcher.close()
