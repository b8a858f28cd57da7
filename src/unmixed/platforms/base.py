"""The interface every platform adapter implements, and the events it reports.

An adapter turns one platform's signalling and media into a single ordered
stream of events: who is in the meeting, whose audio is flowing, and that
audio itself as PCM at the platform's own rate with its capture time. Zoom's
SDK (per-user 32 kHz callbacks), a browser's remote WebRTC tracks and the
testbed's Janus room all reduce to these few events.
"""

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

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
class PcmFrame:
    """Interleaved signed 16-bit PCM, shape (samples, channels), at the platform's rate."""

    samples: np.ndarray
    sample_rate: int
    captured_at: float
    """Unix time of the first sample, from the media clock (RTP), not from arrival."""


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


class MeetingAdapter(ABC):
    """One bot's presence in one meeting.

    `join` returns once the bot is in the call (or raises `JoinError`); events
    then queue up in order until `leave`. Events are read with `next_event`, a
    plain queue read, so a caller may wait on it with a timeout.
    """

    def __init__(self) -> None:
        self._events: asyncio.Queue[MeetingEvent] = asyncio.Queue()

    async def next_event(self) -> MeetingEvent:
        return await self._events.get()

    def _emit(self, event: MeetingEvent) -> None:
        self._events.put_nowait(event)

    @abstractmethod
    async def join(self, bot_name: str) -> None: ...

    @abstractmethod
    async def leave(self) -> None: ...
