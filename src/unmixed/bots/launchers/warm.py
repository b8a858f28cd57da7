"""Forking bot processes: the local launcher's end of the warm bot process (`zygote`).

`BotForker` starts the warm process when it is made (so the first bot finds
it ready) and again whenever it is gone, and asks it to fork each bot. What
goes over the channel between them is described in `unmixed.bots.zygote`.
"""

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sys
from typing import Any

import structlog

from unmixed.bots.launchers.base import LaunchFailed
from unmixed.bots.process import BotProcess
from unmixed.bots.zygote import PACKET_BYTES, TITLE_ROOM
from unmixed.settings import Settings

SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1"}
"""numpy's OpenBLAS otherwise starts a thread per core as numpy is imported, and
a process with threads is not safe to fork. Bots do no linear algebra."""

ANSWER_SECONDS = 30.0
"""How long the warm process may take to answer a request to fork a bot, its own
start (a second or two) included; one that takes longer is taken to hang."""

log = structlog.get_logger(__name__)


class WarmProcessGone(LaunchFailed):
    """The warm bot process ended before it answered: a new one can fork the bot."""


class _Zygote:
    """One warm bot process and the local launcher's end of its channel."""

    def __init__(self, process: asyncio.subprocess.Process, channel: socket.socket) -> None:
        self._process = process
        self._channel = channel
        self._requests = itertools.count()
        self._answers: dict[int, asyncio.Future[BotProcess]] = {}
        self._bots: dict[int, BotProcess] = {}
        """Bots it forked and has not reaped yet, by pid."""
        self.alive = True
        channel.setblocking(False)
        asyncio.get_running_loop().add_reader(channel.fileno(), self._receive)

    @classmethod
    async def start(cls, environment: dict[str, str]) -> "_Zygote":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with theirs:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "unmixed.bots.zygote",
                    TITLE_ROOM,
                    stdin=theirs.fileno(),
                    # Bots log to stderr. What a platform's library prints to stdout goes
                    # nowhere: Zoom's SDK prints the meeting password there.
                    stdout=asyncio.subprocess.DEVNULL,
                    env={**environment, **SINGLE_THREADED},
                )
        except BaseException:
            ours.close()
            raise
        log.info("warm bot process started", pid=process.pid)
        return cls(process, ours)

    async def fork(self, bot_id: str, within: float) -> BotProcess:
        """The bot, forked; `LaunchFailed` if not, `WarmProcessGone` if this process
        ended first. One that does not answer `within` seconds hangs, and is killed,
        so that the next launch starts another."""
        if not self.alive:
            raise WarmProcessGone("the warm bot process ended")
        request = next(self._requests)
        answer = asyncio.get_running_loop().create_future()
        self._answers[request] = answer
        try:
            async with asyncio.timeout(within):
                await self._send({"start": bot_id, "request": request})
                return await answer
        except TimeoutError as error:
            with contextlib.suppress(ProcessLookupError):  # it ended just now
                self._process.kill()
            raise LaunchFailed(f"the warm bot process did not answer in {within:g} s") from error
        finally:
            self._answers.pop(request, None)

    async def _send(self, message: dict[str, Any]) -> None:
        """If the warm process is found gone, `_close` fails every answer awaited,
        the one to this message too, and the next launch starts another."""
        packet = json.dumps(message).encode()
        try:
            await asyncio.get_running_loop().sock_sendall(self._channel, packet)
        except OSError:
            self._close()

    def _receive(self) -> None:
        while self.alive:
            try:
                packet, fds, _, _ = socket.recv_fds(
                    self._channel, PACKET_BYTES, 1, socket.MSG_CMSG_CLOEXEC
                )
            except BlockingIOError:
                return
            except OSError:
                packet, fds = b"", []
            if not packet:
                self._close()
                return
            self._handle(json.loads(packet), fds)

    def _handle(self, message: dict[str, Any], fds: list[int]) -> None:
        if "exited" in message:
            bot = self._bots.pop(message["exited"], None)
            if bot is not None:
                bot.exited(message["code"])
            return
        answer = self._answers.get(message["request"])
        if answer is not None and answer.done():
            answer = None  # its launch was called off meanwhile
        if "error" in message:
            if answer is not None:
                answer.set_exception(LaunchFailed(message["error"]))
            return
        if answer is None:
            _kill(message["pid"], fds[0])
            return
        bot = self._bots[message["pid"]] = BotProcess(message["pid"], fds[0])
        answer.set_result(bot)

    def _close(self) -> None:
        """Stop listening; a bot it has not reaped ends with its exit code unknown."""
        if not self.alive:
            return
        self.alive = False
        asyncio.get_running_loop().remove_reader(self._channel.fileno())
        self._channel.close()
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(WarmProcessGone("the warm bot process ended"))
        for bot in self._bots.values():
            bot.exited(None)
        self._bots.clear()

    async def stop(self) -> None:
        """Close the channel, which ends the warm process, and wait for it."""
        self._close()
        await self._process.wait()


class BotForker:
    """Forks bot processes from a warm one, which it starts (again) when needed."""

    def __init__(
        self, environment: dict[str, str], *, answer_within: float = ANSWER_SECONDS
    ) -> None:
        """In the loop the bots are to be watched from: the warm process starts now."""
        self._environment = environment
        self._answer_within = answer_within
        self._zygote = self._start()

    @classmethod
    def for_settings(cls, settings: Settings) -> "BotForker":
        """Bots with this process's environment and `settings`, never the API key."""
        return cls(
            {
                **{name: value for name, value in os.environ.items() if name != "UNMIXED_API_KEY"},
                **settings.bot_environment(),
            }
        )

    def _start(self) -> "asyncio.Task[_Zygote]":
        return asyncio.get_running_loop().create_task(
            _Zygote.start(self._environment), name="warm bot process"
        )

    async def launch(self, bot_id: str) -> BotProcess:
        """Start the bot's process (`python -m unmixed.bots.runner BOT_ID`, forked).

        If the warm process turns out to have ended, once more from a new one: it
        may have forked the bot before it ended, but of two processes of one bot
        only the first to claim it runs it (the other exits with
        `ALREADY_CLAIMED_EXIT_CODE`)."""
        try:
            return await self._fork(bot_id)
        except WarmProcessGone:
            log.warning("the warm bot process ended as it was forking a bot", bot=bot_id)
            return await self._fork(bot_id)

    async def _fork(self, bot_id: str) -> BotProcess:
        if self._zygote.done() and not _alive(self._zygote):
            self._zygote = self._start()
        zygote = await asyncio.shield(self._zygote)
        return await zygote.fork(bot_id, self._answer_within)

    async def close(self) -> None:
        """End the warm process; bots still running go on (they are not its to stop)."""
        try:
            zygote = await self._zygote
        except Exception:  # it never started; the launches that needed it said why
            return
        await zygote.stop()


def _alive(started: "asyncio.Task[_Zygote]") -> bool:
    return not started.cancelled() and started.exception() is None and started.result().alive


def _kill(pid: int, pidfd: int) -> None:
    """End a bot forked for a launch that was called off (cancelled, or given up on):
    nobody would watch it, or tell it to leave."""
    log.warning("killing a bot forked for a launch called off", pid=pid)
    with contextlib.suppress(ProcessLookupError):  # it ended already
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    os.close(pidfd)
