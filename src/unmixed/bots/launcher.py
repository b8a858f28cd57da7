"""Starting bot processes: the dispatcher's end of the warm bot process (`zygote`).

`BotLauncher` starts the warm process when it is made (so the first bot finds
it ready) and again whenever it is gone, and asks it to fork each bot. What
goes over the channel between them is described in `unmixed.bots.zygote`.
"""

import asyncio
import itertools
import json
import socket
import sys
from typing import Any

import structlog

from unmixed.bots.process import BotProcess
from unmixed.bots.zygote import PACKET_BYTES, TITLE_ROOM

SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1"}
"""numpy's OpenBLAS otherwise starts a thread per core as numpy is imported, and
a process with threads is not safe to fork. Bots do no linear algebra."""

log = structlog.get_logger(__name__)


class LaunchFailed(Exception):
    """The warm bot process could not fork the bot, or ended before it answered."""


class _Zygote:
    """One warm bot process and the dispatcher's end of its channel."""

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
        log.info("warm bot process started", pid=process.pid)
        return cls(process, ours)

    async def fork(self, bot_id: str) -> BotProcess:
        request = next(self._requests)
        answer = asyncio.get_running_loop().create_future()
        self._answers[request] = answer
        try:
            packet = json.dumps({"start": bot_id, "request": request}).encode()
            await asyncio.get_running_loop().sock_sendall(self._channel, packet)
            return await answer
        except OSError as error:
            raise LaunchFailed("the warm bot process is gone") from error
        finally:
            self._answers.pop(request, None)

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
        bot = self._bots[message["pid"]] = BotProcess(message["pid"], fds[0])
        if answer is not None:
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
                answer.set_exception(LaunchFailed("the warm bot process ended"))
        for bot in self._bots.values():
            bot.exited(None)
        self._bots.clear()

    async def stop(self) -> None:
        """Close the channel, which ends the warm process, and wait for it."""
        self._close()
        await self._process.wait()


class BotLauncher:
    """Forks bot processes from a warm one, which it starts (again) when needed."""

    def __init__(self, environment: dict[str, str]) -> None:
        """In the loop the bots are to be watched from: the warm process starts now."""
        self._environment = environment
        self._zygote = self._start()

    def _start(self) -> "asyncio.Task[_Zygote]":
        return asyncio.get_running_loop().create_task(
            _Zygote.start(self._environment), name="warm bot process"
        )

    async def launch(self, bot_id: str) -> BotProcess:
        """Start the bot's process (`python -m unmixed.bots.runner BOT_ID`, forked)."""
        if self._zygote.done() and not _alive(self._zygote):
            self._zygote = self._start()
        zygote = await asyncio.shield(self._zygote)
        return await zygote.fork(bot_id)

    async def close(self) -> None:
        """End the warm process; bots still running go on (they are not its to stop)."""
        try:
            zygote = await self._zygote
        except OSError:
            return
        await zygote.stop()


def _alive(started: "asyncio.Task[_Zygote]") -> bool:
    return not started.cancelled() and started.exception() is None and started.result().alive
