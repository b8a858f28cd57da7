"""When a bot leaves on its own: the `automatic_leave` rules that depend on who is present."""

import time
from collections.abc import Callable
from dataclasses import dataclass

from unmixed.wire.bots import AutomaticLeave
from unmixed.wire.status import SubCode


@dataclass(frozen=True)
class LeaveDeadline:
    at: float | None
    """On the monotonic clock (the event loop's); None: no deadline."""
    sub_code: str


class PresenceRules:
    """`noone_joined_timeout` and `everyone_left_timeout`, from join and leave events."""

    def __init__(self, config: AutomaticLeave, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._in_call_since = clock()
        self._present: set[str] = set()
        self._anyone_joined = False
        self._empty_since: float | None = None

    def start(self) -> None:
        """The bot is in the call: the no-one-joined clock starts now."""
        self._in_call_since = self._clock()

    def joined(self, key: str) -> None:
        self._present.add(key)
        self._anyone_joined = True
        self._empty_since = None

    def left(self, key: str) -> None:
        self._present.discard(key)
        if self._anyone_joined and not self._present:
            self._empty_since = self._clock()

    def deadline(self) -> LeaveDeadline:
        if not self._anyone_joined:
            return LeaveDeadline(
                self._in_call_since + self._config.noone_joined_timeout,
                SubCode.TIMEOUT_EXCEEDED_NOONE_JOINED,
            )
        if self._empty_since is not None:
            rule = self._config.everyone_left()
            active_from = self._in_call_since + (rule.activate_after or 0)
            return LeaveDeadline(
                max(self._empty_since + rule.timeout, active_from),
                SubCode.TIMEOUT_EXCEEDED_EVERYONE_LEFT,
            )
        return LeaveDeadline(None, "")
