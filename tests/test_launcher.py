"""Bots forked from the warm bot process: each is still a process of its own that shows
as `python -m unmixed.bots.runner BOT_ID`, gets the bots' environment, is signalled and
watched through its pidfd, ends with the runner's exit codes, and outlives the warm
process. The bots here join a "meeting" that accepts the connection and never answers,
so they stay joining for as long as a test needs them."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
from pydantic import SecretStr

from unmixed.bots.dispatcher import LocalDispatcher
from unmixed.bots.exits import ALREADY_CLAIMED_EXIT_CODE
from unmixed.bots.launcher import BotLauncher
from unmixed.settings import Settings
from unmixed.store import ENVIRONMENT_KEY, Bots, open_database
from unmixed.wire.bots import BotCreate
from unmixed.wire.meeting_url import parse_meeting_url
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

API_KEY = "launcher-test-api-key"


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
def settings(tmp_path: Path) -> Settings:
    settings = Settings(
        data_dir=tmp_path, database_url=None, testbed_enabled=True, api_key=SecretStr(API_KEY)
    )
    open_database(settings.resolved_database_url(), migrate=True).engine.dispose()
    return settings


@pytest.fixture
def bots(settings: Settings) -> Iterator[Bots]:
    database = open_database(settings.resolved_database_url())
    yield Bots(database)
    database.engine.dispose()


def new_bot(bots: Bots, meeting_url: str) -> str:
    request = BotCreate(meeting_url=meeting_url)
    return bots.create(request, parse_meeting_url(meeting_url), ENVIRONMENT_KEY).id


def bot_environment(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.bot_environment()}


async def joining(bots: Bots, bot_id: str) -> None:
    """Wait until the bot's process has claimed it (and is stuck joining)."""
    async with asyncio.timeout(10):
        while True:
            if bots.record(bot_id).status == StatusCode.JOINING_CALL:
                return
            await asyncio.sleep(0.02)


async def test_a_bot_is_a_fork_of_the_warm_process_that_shows_as_the_runner(
    settings: Settings, bots: Bots, silent_meeting: str
) -> None:
    launcher = BotLauncher(bot_environment(settings))
    try:
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

        bot.send_signal(signal.SIGTERM)
        assert await bot.wait() == 0
        assert not bot.running
        bot.send_signal(signal.SIGKILL)  # an ended bot's pidfd is closed: nothing to reach
        ended = bots.get(bot_id)
        assert ended is not None
        assert [(c.code, c.sub_code) for c in ended.status_changes][-2:] == [
            (StatusCode.CALL_ENDED, SubCode.BOT_RECEIVED_LEAVE_CALL),
            (StatusCode.DONE, None),
        ]
    finally:
        await launcher.close()


async def test_exit_codes_are_the_runners(
    settings: Settings, bots: Bots, silent_meeting: str
) -> None:
    launcher = BotLauncher(bot_environment(settings))
    try:
        bot_id = new_bot(bots, silent_meeting)
        first = await launcher.launch(bot_id)
        await joining(bots, bot_id)
        again = await launcher.launch(bot_id)
        assert await again.wait() == ALREADY_CLAIMED_EXIT_CODE
        no_such_bot = await launcher.launch("00000000-0000-4000-8000-000000000000")
        assert await no_such_bot.wait() == 1
        first.kill()
        assert await first.wait() == -signal.SIGKILL
    finally:
        await launcher.close()


async def test_bots_outlive_the_warm_process_which_starts_again(
    settings: Settings, bots: Bots, silent_meeting: str
) -> None:
    launcher = BotLauncher(bot_environment(settings))
    try:
        bot_id = new_bot(bots, silent_meeting)
        bot = await launcher.launch(bot_id)
        await joining(bots, bot_id)
        warm = psutil.Process(bot.pid).parent()
        assert warm is not None
        warm.kill()
        await asyncio.to_thread(warm.wait, 10)
        async with asyncio.timeout(10):
            while psutil.Process(bot.pid).ppid() == warm.pid:  # until the kernel re-parents it
                await asyncio.sleep(0.02)
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
    finally:
        await launcher.close()


async def test_the_dispatcher_gives_its_bots_their_environment_without_the_api_key(
    settings: Settings, bots: Bots, silent_meeting: str
) -> None:
    dispatcher = LocalDispatcher(bots, settings)
    bot_id = new_bot(bots, silent_meeting)
    dispatcher.dispatch(bot_id)
    await joining(bots, bot_id)
    (process,) = [
        child for child in psutil.Process().children(recursive=True) if bot_id in child.cmdline()
    ]
    environment = process.environ()
    assert "UNMIXED_API_KEY" not in environment
    assert environment["UNMIXED_DATABASE_URL"] == settings.resolved_database_url()
    warm = process.parent()
    assert warm is not None
    await dispatcher.request_leave(bot_id)
    await dispatcher.shutdown()
    assert bots.record(bot_id).status in FINAL_CODES
    assert not warm.is_running(), "the warm process ends with the dispatcher"
