"""A bot's process as the local launcher holds it: forked by the warm bot process, so not
the API's child, and watched and signalled through a pidfd.

A pid names whichever process holds it now; a pidfd names one process for good,
so a signal can never reach another process that took over the pid of a bot
that ended, and the end of a bot shows even if the process that reaps it (and
reads its exit code) is gone.

Once the warm process is gone, its bots are re-parented to the nearest
subreaper, or to PID 1. Where that is the API (a container with no init), the
API reaps them itself, through the pidfd, or each would stay a zombie.
"""

import asyncio
import contextlib
import os
import signal


class BotProcess:
    def __init__(self, pid: int, pidfd: int) -> None:
        """Takes over `pidfd` (closed once the process has ended)."""
        self.pid = pid
        self._pidfd: int | None = pidfd
        self._code: int | None = None
        self._code_known = False
        loop = asyncio.get_running_loop()
        self._done: asyncio.Future[int | None] = loop.create_future()
        loop.add_reader(pidfd, self._ended)

    @property
    def running(self) -> bool:
        return self._pidfd is not None

    def send_signal(self, signum: int) -> None:
        """Signal the process if it is still running; never another one."""
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):  # it ended just now
                signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def exited(self, code: int | None) -> None:
        """The exit code, from the process that reaped it; None if that process is gone
        (and this one does not inherit the bot, see above)."""
        if not self._code_known:
            self._code, self._code_known = code, True
            self._settle()

    async def wait(self) -> int | None:
        """Once the process has ended: its exit code (negative: killed by that signal),
        or None if it could not be known."""
        return await asyncio.shield(self._done)

    def _ended(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            self._reap_orphan(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
            self._settle()

    def _reap_orphan(self, pidfd: int) -> None:
        """Reap the process if it became this one's child (see above), and take its
        exit code from there: the warm process that would have told it is gone."""
        try:
            ended = os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:  # not ours: the warm process reaps it, or another
            return
        if ended is not None:
            self._code, self._code_known = _exit_code(ended), True

    def _settle(self) -> None:
        if self._pidfd is None and self._code_known and not self._done.done():
            self._done.set_result(self._code)


def _exit_code(ended: os.waitid_result) -> int:
    """As `asyncio.subprocess.Process.returncode` has it: negative if killed by a signal."""
    if ended.si_code == os.CLD_EXITED:
        return ended.si_status
    return -ended.si_status
