"""The warm bot process: imports what bots need once, then forks one process per bot.

A bot started as `python -m unmixed.bots.runner BOT_ID` pays for a new
interpreter and a second of imports (SQLAlchemy, the pydantic models, numpy,
aiortc...); ten bots created together paid it ten times over, on two cores, and
each kept a copy of every module of its own. So the local launcher starts this
process once, with the bots' environment, and it forks a bot for each request:
the child starts with everything imported, shares those pages with its siblings
until it writes to them, and from there on is the bot that `python -m
unmixed.bots.runner BOT_ID` would be: a process of its own, showing that
command line, running that `main`, ending with its exit codes.

A fork inherits the whole process, so this one never does what a child must not
inherit: it runs no event loop and no thread (not even logging's: each bot
configures its own), opens no database and no socket but its control channel,
which each child closes first. It blocks SIGINT and SIGTERM, which a terminal
or a service manager sends the API and its bots alike: the API asks its bots to
leave, and this process ends when its channel closes, once the local launcher is
done with it or the API is gone. Blocked, not ignored: a child inherits the
mask and unblocks them once it is a bot, so that a signal sent to it as it
starts (the API asked it to leave meanwhile) waits for it instead of being
lost. Its bots live on if it ends; only their exit codes are lost (unless the
API inherits them: see `unmixed.bots.process`).

Loading what the bots share only saves them time, so only the runner's import
must succeed here: anything else that fails to load is logged and left to the
bots that need it, and bots on every other platform start as ever.

The channel is a SOCK_SEQPACKET socket on stdin, one JSON object per packet:

- launcher to zygote: `{"start": BOT_ID, "request": N}`;
- zygote to launcher: `{"request": N, "pid": PID}` with a pidfd of the bot
  attached, or `{"request": N, "error": WHY}` if it could not fork; and
  `{"exited": PID, "code": CODE}` once it has reaped a bot, CODE as
  `asyncio.subprocess.Process.returncode` has it (negative: killed by that signal).
"""

import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from unmixed.bots.proctitle import set_command_line
from unmixed.logs import redact_event

BOT_MODULE = "unmixed.bots.runner"
TITLE_ROOM = str(uuid.UUID(int=0))
"""This process's one argument: room in its command line for a bot's id (a UUID),
which each child writes there, in place of this module's name (as long as the
runner's), to show as `python -m unmixed.bots.runner BOT_ID`."""
FIRST_USE_MODULES = ("httpcore", "anyio._backends._asyncio")
"""What every bot imports only once it runs: httpx's transport, at the first
request, and the event loop backend that transport runs on (anyio loads it when
first used)."""
PACKET_BYTES = 65536
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
"""Blocked here, with the handlers a fresh interpreter has; a child unblocks them."""

log = structlog.wrap_logger(
    structlog.PrintLogger(sys.stderr),
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="%H:%M:%S.%f", utc=False),
        structlog.processors.format_exc_info,
        redact_event,
        structlog.dev.ConsoleRenderer(colors=False),
    ],
    process="zygote",
)
"""Renders and writes each line at once, redacted as every unmixed log line is:
`unmixed.logs` hands lines to a thread, which this process must not run (see
above). Its stdout goes nowhere."""


def main() -> None:
    control = socket.socket(fileno=sys.stdin.fileno())
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    preload()
    try:
        bot_id = _serve(control)
    except ConnectionError:  # the API is gone
        return
    if bot_id is not None:
        _become_bot(bot_id)


def preload() -> None:
    """Import the runner, what it loads on first use and the adapters every bot here
    may share, then freeze what is loaded so that no child's garbage collector
    writes to (and so copies) it. (Imported here, not above: the launcher imports
    this module for its constants.)

    Only the runner, and the settings every bot reads too, must load: without
    them no bot could run. The rest is best effort (see above)."""
    from unmixed.bots.platforms import preloaded_modules
    from unmixed.settings import Settings
    from unmixed.store.database import preload as preload_database

    importlib.import_module(BOT_MODULE)
    settings = Settings()
    for module in (*FIRST_USE_MODULES, *preloaded_modules(settings)):
        _attempt(f"import {module}", importlib.import_module, module)
    _attempt("load the database driver", preload_database, settings.resolved_database_url())
    gc.collect()
    gc.freeze()


def _attempt(step: str, load: Callable[[str], object], name: str) -> None:
    """Run one step of the preload; if it fails, say so and go on without it."""
    try:
        load(name)
    except Exception:
        log.warning(
            "could not preload for the bots; each bot that needs it loads it",
            step=step,
            exc_info=True,
        )


def _serve(control: socket.socket) -> str | None:
    """Fork a bot for each request until the channel closes (None). In a child it
    returns at once, with the id of the bot that child is to be."""
    with selectors.DefaultSelector() as selector:
        selector.register(control, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is not control:
                    _reap(control, selector, key.fd, key.data)
                    continue
                packet = control.recv(PACKET_BYTES)
                if not packet:
                    return None
                request = json.loads(packet)
                try:
                    pid = os.fork()
                except OSError as error:
                    _send(control, {"request": request["request"], "error": str(error)})
                    continue
                if pid == 0:
                    _leave_the_zygote(control, selector)
                    bot_id: str = request["start"]
                    return bot_id
                pidfd = os.pidfd_open(pid)
                _send(control, {"request": request["request"], "pid": pid}, pidfd)
                selector.register(pidfd, selectors.EVENT_READ, pid)


def _reap(control: socket.socket, selector: selectors.BaseSelector, pidfd: int, pid: int) -> None:
    selector.unregister(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    _send(control, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _send(control: socket.socket, message: dict[str, Any], pidfd: int | None = None) -> None:
    packet = json.dumps(message).encode()
    socket.send_fds(control, [packet], [] if pidfd is None else [pidfd])


def _leave_the_zygote(control: socket.socket, selector: selectors.BaseSelector) -> None:
    """In a child: drop the channel (stdin becomes /dev/null) and the siblings'
    pidfds; the selector closes as `_serve` returns."""
    for key in list(selector.get_map().values()):
        if key.fileobj is not control:
            os.close(key.fd)
    stdin = control.detach()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, stdin)
    os.close(null)


def _become_bot(bot_id: str) -> None:
    """Run the bot as `python -m unmixed.bots.runner BOT_ID` would, exit code and all.

    Its handlers are a fresh interpreter's already (this process never changes
    them), so unblocking the stop signals delivers one sent meanwhile as it would
    have been: SIGTERM ends the bot, SIGINT raises KeyboardInterrupt."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    runner = sys.modules[BOT_MODULE]
    sys.argv = [str(runner.__file__), bot_id]
    if not set_command_line([sys.orig_argv[0], "-m", BOT_MODULE, bot_id]):
        log.warning(
            "the bot shows the warm process's command line: its id is longer than the room",
            process="bot",
            bot=bot_id,
            room=len(TITLE_ROOM),
        )
    runner.main()


if __name__ == "__main__":
    main()
