"""The interface every platform adapter implements, and the events it reports.

An adapter turns one platform's signalling and media into a single ordered
stream of events: who is in the meeting, whose audio is flowing, and that
audio itself as PCM at the platform's own rate with its capture time. Zoom's
SDK (per-user 32 kHz callbacks), a browser's remote WebRTC tracks and the
testbed's Janus room all reduce to these few events.

Events are pushed, not pulled: the adapter calls the sink it was given, on the
event loop, as things happen. Audio comes fifty times a second per participant,
and handing each frame straight on costs far less than a queue and a task
switch per frame.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from unmixed.media.frames import PcmFrame
from unmixed.wire.realtime import ParticipantPlatform, Separation


class JoinError(Exception):
    """The bot could not get into the meeting; `sub_code` says why, in Recall's terms."""

    def __init__(self, sub_code: str, message: str) -> None:
        super().__init__(message)
        self.sub_code = sub_code


@dataclass(frozen=True)
class Participant:
    """Someone in the meeting, as the platform knows them."""

    key: str
    """The platform's own id for them, unique within the meeting."""
    name: str
    is_host: bool
    platform: ParticipantPlatform | None
    separation: Separation
    """Whether their audio is their own stream or labelled from a mix."""


@dataclass(frozen=True)
class ParticipantJoined:
    participant: Participant


@dataclass(frozen=True)
class ParticipantLeft:
    key: str


@dataclass(frozen=True)
class AudioStarted:
    """The participant's audio flows: they joined unmuted, unmuted, or (re)published."""

    key: str


@dataclass(frozen=True)
class AudioStopped:
    """The participant muted, stopped publishing or left; no frames until `AudioStarted`."""

    key: str


@dataclass(frozen=True)
class AudioReceived:
    key: str
    frame: PcmFrame


@dataclass(frozen=True)
class RecordingPermission:
    """Whether the platform lets the bot capture audio (Zoom asks the host; others always do)."""

    granted: bool


@dataclass(frozen=True)
class MeetingEnded:
    """The bot is out of the meeting through no choice of its own."""

    sub_code: str


MeetingEvent = (
    ParticipantJoined
    | ParticipantLeft
    | AudioStarted
    | AudioStopped
    | AudioReceived
    | RecordingPermission
    | MeetingEnded
)


EventSink = Callable[[MeetingEvent], None]
"""Receives every event, in order. It must return quickly and must not raise."""


class MeetingAdapter(ABC):
    """One bot's presence in one meeting.

    `join` returns once the bot is in the call (or raises `JoinError`); from
    the start of `join` until `leave`, every event goes to `on_event`.
    """

    def __init__(self) -> None:
        self._sink: EventSink | None = None

    async def join(self, bot_name: str, on_event: EventSink) -> None:
        self._sink = on_event
        await self._join(bot_name)

    def _emit(self, event: MeetingEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    @abstractmethod
    async def _join(self, bot_name: str) -> None: ...

    @abstractmethod
    async def leave(self) -> None: ...
