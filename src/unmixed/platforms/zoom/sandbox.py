"""What the SDK needs of the process around it: its own HOME, no DISPLAY, and a
stdout that cannot leak the meeting password.

- HOME: the SDK writes encrypted databases, logs and a device id under
  `$HOME/.zoomsdk` and `$HOME/.config`; a bot gets a fresh folder, removed after.
- DISPLAY: with a live X server behind it, `InitSDK` segfaults.
- fd 1: `Join` prints its whole JoinParam (password and tokens included) with
  C's stdio, which `sys.stdout` redirection does not catch. The descriptor
  itself is pointed at a pipe; a thread reads it and logs each line, redacted,
  at debug level, dropping the lines that label a secret outright. It logs
  through the standard library, never structlog's default printer, which
  writes to stdout: the pipe it reads.
"""

import ctypes
import logging
import os
import re
import shutil
import sys
import tempfile
import threading

import structlog

from unmixed.logs import redact

SECRET_LINE = re.compile(r"(?i)pass|psw|pwd|zak|token|secret|jwt")
"""A line of the SDK's output naming one of these is dropped whole, redacted or not."""
READER_JOIN_SECONDS = 2.0
_LIBC = ctypes.CDLL(None)

log = structlog.get_logger(__name__)
sdk_output = logging.getLogger("unmixed.platforms.zoom.sdk_output")


class ProcessSandbox:
    """Enter before `InitSDK`, exit after `CleanUPSDK`; everything it changed is put back."""

    def __init__(self) -> None:
        self._home: str | None = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_stdout: int | None = None
        self._reader: threading.Thread | None = None

    def enter(self) -> None:
        self._home = tempfile.mkdtemp(prefix="unmixed-zoom-home-")
        for name, value in (("HOME", self._home), ("DISPLAY", None)):
            self._saved_env[name] = os.environ.get(name)
            _set_env(name, value)
        self._filter_stdout()

    def exit(self) -> None:
        """Undo `enter`; never raises."""
        try:
            self._restore_stdout()
            for name, value in self._saved_env.items():
                _set_env(name, value)
            self._saved_env.clear()
            if self._home is not None:
                shutil.rmtree(self._home, ignore_errors=True)
                self._home = None
        except Exception:
            log.exception("could not undo the Zoom SDK's process sandbox")

    def _filter_stdout(self) -> None:
        _flush_stdout()
        read_end, write_end = os.pipe()
        self._saved_stdout = os.dup(1)
        os.dup2(write_end, 1)
        os.close(write_end)
        self._reader = threading.Thread(
            target=_drain, args=(read_end,), name="zoom-sdk-stdout", daemon=True
        )
        self._reader.start()

    def _restore_stdout(self) -> None:
        """Put fd 1 back; the pipe's last writer is gone, so the reader sees its end."""
        if self._saved_stdout is None:
            return
        _flush_stdout()
        os.dup2(self._saved_stdout, 1)
        os.close(self._saved_stdout)
        self._saved_stdout = None
        if self._reader is not None:
            self._reader.join(READER_JOIN_SECONDS)
            self._reader = None


def _flush_stdout() -> None:
    """What Python and C's stdio buffered for fd 1 goes where it was meant to, before
    fd 1 changes: the SDK's `printf`s into a pipe are block-buffered, and would
    otherwise reach the real stdout once it is put back."""
    if sys.stdout is not None:
        sys.stdout.flush()
    _LIBC.fflush(None)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _drain(read_end: int) -> None:
    with open(read_end, "rb", closefd=True) as pipe:
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip()
            if line and not SECRET_LINE.search(line):
                sdk_output.debug("zoom sdk output: %s", redact(line))
