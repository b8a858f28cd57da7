"""GLib's default main context, which the SDK needs iterated to deliver anything.

The SDK hangs its timers and sockets on GLib's default context and delivers
every callback from inside an iteration of it, on the thread that called
`InitSDK`; iterating it from any other thread aborts the process. PyGObject is
not needed: two functions of libglib, through ctypes, are all it takes.
"""

import ctypes
from typing import Protocol

GLIB = "libglib-2.0.so.0"


class MainContext(Protocol):
    """What the SDK thread needs of a main context (tests give a fake one)."""

    def iteration(self, may_block: bool) -> bool:
        """Dispatch what is ready, waiting for something first if `may_block`."""
        ...

    def wakeup(self) -> None:
        """Make a blocked (or the next) `iteration` return; safe from any thread."""
        ...


class GLibMainContext:
    """GLib's default main context (NULL), through ctypes."""

    def __init__(self) -> None:
        glib = ctypes.CDLL(GLIB)
        self._iteration = glib.g_main_context_iteration
        self._iteration.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._iteration.restype = ctypes.c_int
        self._wakeup = glib.g_main_context_wakeup
        self._wakeup.argtypes = [ctypes.c_void_p]
        self._wakeup.restype = None

    def iteration(self, may_block: bool) -> bool:
        """ctypes releases the GIL for the call, so other threads run while GLib waits."""
        return bool(self._iteration(None, int(may_block)))

    def wakeup(self) -> None:
        self._wakeup(None)
