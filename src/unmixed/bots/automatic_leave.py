"""When a bot leaves on its own: the `automatic_leave` rules that depend on the call.

Who is present (no one joined, everyone left, only bots left by their names or
by never being heard) and whether anyone is heard at all (silence detection).
Each rule gives a deadline on the loop's clock; the bot leaves at the earliest,
with that rule's sub_code. Deadlines only move later as people are heard, so
hearing someone never wakes the bot: it looks again when a deadline passes.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from unmixed.media import PcmFrame
from unmixed.wire.bots import AutomaticLeave, Timeout
from unmixed.wire.status import SubCode

HEARD_LEVEL = 0.01
"""RMS, as a share of full scale (-40 dBFS), above which a frame is someone speaking:
well above a quiet room's noise and a codec's comfort noise, well below speech."""

HEARD_CHECK_SECONDS = 0.5
"""Someone heard this recently is not checked again: silence rules count in
minutes, so measuring every frame of a speaker would be wasted work."""


@dataclass(frozen=True)
class LeaveDeadline:
    at: float | None
    """On the monotonic clock (the event loop's); None: no deadline."""
    sub_code: str


NO_DEADLINE = LeaveDeadline(None, "")


HEARD_RMS = HEARD_LEVEL * 32768


def is_heard(frame: PcmFrame) -> bool:
    samples = frame.samples
    if max(int(samples.max(initial=0)), -int(samples.min(initial=0))) <= HEARD_RMS:
        return False  # no sample reaches the level, so neither can their RMS: most frames
    wide = samples.astype(np.float32)
    return float(np.sqrt(np.mean(wide * wide))) > HEARD_RMS


class PresenceRules:
    """Every rule that depends on who is in the call and whether they are heard."""

    def __init__(self, config: AutomaticLeave, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._in_call_since = clock()
        self._present: dict[str, str] = {}
        """Who is in the call, by key: their name."""
        self._anyone_joined = False
        self._empty_since: float | None = None
        self._last_heard = self._in_call_since
        self._heard_at: dict[str, float] = {}
        """When each participant was last heard; absent: never."""
        self._only_bots_by_name_since: float | None = None
        self._only_unheard_since: float | None = None

    @property
    def present(self) -> list[str]:
        """Who is in the call now, by key."""
        return list(self._present)

    def start(self) -> None:
        """The bot is in the call: the no-one-joined and silence clocks start now."""
        self._in_call_since = self._last_heard = self._clock()

    def joined(self, key: str, name: str) -> None:
        self._present[key] = name
        self._anyone_joined = True
        self._empty_since = None
        self._changed()

    def renamed(self, key: str, name: str) -> None:
        if key in self._present:
            self._present[key] = name
            self._changed()

    def left(self, key: str) -> None:
        self._present.pop(key, None)
        if self._anyone_joined and not self._present:
            self._empty_since = self._clock()
        self._changed()

    def audio(self, key: str, frame: PcmFrame) -> None:
        """A frame of `key`'s audio: if it is speech, they and the call are heard."""
        now = self._clock()
        last = self._heard_at.get(key)
        if last is not None and now - last < HEARD_CHECK_SECONDS:
            return
        if is_heard(frame):
            self._heard_at[key] = self._last_heard = now
            if self._only_unheard_since is not None:
                self._changed()

    def deadline(self) -> LeaveDeadline:
        if not self._anyone_joined:
            return LeaveDeadline(
                self._in_call_since + self._config.noone_joined_timeout,
                SubCode.TIMEOUT_EXCEEDED_NOONE_JOINED,
            )
        bots = self._config.bot_detection
        candidates = [
            self._after(
                self._empty_since,
                self._config.everyone_left(),
                SubCode.TIMEOUT_EXCEEDED_EVERYONE_LEFT,
            ),
            self._after(
                self._last_heard,
                self._config.silence_detection,
                SubCode.TIMEOUT_EXCEEDED_SILENCE_DETECTED,
            ),
            self._after(
                self._only_bots_by_name_since,
                bots.using_participant_names,
                SubCode.TIMEOUT_EXCEEDED_ONLY_BOTS_BY_NAME,
            ),
            self._after(
                self._only_unheard_since,
                bots.using_participant_events,
                SubCode.TIMEOUT_EXCEEDED_ONLY_BOTS_BY_EVENTS,
            ),
        ]
        timed = [candidate for candidate in candidates if candidate.at is not None]
        return min(timed, key=lambda candidate: candidate.at or 0.0, default=NO_DEADLINE)

    def _after(self, since: float | None, rule: Timeout, sub_code: str) -> LeaveDeadline:
        """`rule.timeout` after `since`, but not before `rule.activate_after` in the call."""
        if since is None:
            return NO_DEADLINE
        active_from = self._in_call_since + (rule.activate_after or 0)
        return LeaveDeadline(max(since + rule.timeout, active_from), sub_code)

    def _changed(self) -> None:
        """Who is present changed, or someone was heard for the first time: are only bots left?"""
        now = self._clock()
        matches = [m.lower() for m in self._config.bot_detection.using_participant_names.matches]
        names = [name.lower() for name in self._present.values()]
        by_name = bool(names and matches) and all(
            any(match in name for match in matches) for name in names
        )
        unheard = bool(names) and all(key not in self._heard_at for key in self._present)
        if not by_name:
            self._only_bots_by_name_since = None
        elif self._only_bots_by_name_since is None:
            self._only_bots_by_name_since = now
        if not unheard:
            self._only_unheard_since = None
        elif self._only_unheard_since is None:
            self._only_unheard_since = now
