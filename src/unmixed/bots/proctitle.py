"""Rewrite the command line a process shows (`ps`, `/proc/PID/cmdline`, psutil).

A bot forked from the warm bot process (`unmixed.bots.zygote`) would show that
process's command line; it shows `python -m unmixed.bots.runner BOT_ID`
instead, as a bot started on its own does, so operators, `ps` and anything
that finds a bot by its id keep working.

Linux shows the bytes between the process's `arg_start` and `arg_end` (fields
48 and 49 of `/proc/self/stat`), the strings the kernel put on the stack at
exec, which Python never reads again after start-up. A new command line can
only be as long as the one the process was started with, so a process that
means to be renamed is started with room for it (see `zygote.TITLE_ROOM`).
"""

import ctypes
from pathlib import Path

ARG_START_FIELD = 48
"""`/proc/PID/stat` field numbers as `man 5 proc` counts them, from 1."""


def _argument_area() -> tuple[int, int]:
    stat = Path("/proc/self/stat").read_bytes()
    after_name = stat[stat.rindex(b")") + 2 :].split()  # the name may hold spaces and ")"
    first = ARG_START_FIELD - 3  # fields 1 and 2 (pid, name) come before the split
    return int(after_name[first]), int(after_name[first + 1])


def set_command_line(arguments: list[str]) -> bool:
    """Show `arguments` as this process's command line; False, changing nothing, if
    they do not fit in the room it was started with. Fewer bytes than the room are
    padded with NULs, which `ps` ignores but psutil lists as empty arguments."""
    start, end = _argument_area()
    title = b"".join(argument.encode() + b"\0" for argument in arguments)
    room = end - start
    if not start or len(title) > room:
        return False
    ctypes.memmove(start, title.ljust(room, b"\0"), room)
    return True
