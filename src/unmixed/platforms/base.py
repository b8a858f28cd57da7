"""The interface every platform adapter implements, and the events it reports.

An adapter turns one platform's signalling and media into a single ordered
stream of events (whether the bot is let in, who is in the meeting, whose
audio is flowing) and each participant's audio, as PCM at the platform's own
rate with its capture time (and the clock that time comes from). Zoom's SDK
(per-user 32 kHz callbacks on its own thread), a browser's remote WebRTC
tracks and the testbed's Janus room all reduce to these.

Audio is not an event: it comes fifty times a second per participant, so the
adapter hands each frame straight to that participant's `AudioInput`, an
object the bot keeps for them, with no event, dispatch or lookup in between.

Everything is pushed, not pulled. On the bot's event loop it goes straight to
the bot: a queue and a task switch per frame would cost more than the audio
itself. From any other thread (an SDK's callbacks, a capture thread) it is
queued, and the loop is woken once per batch, so a 10 ms callback never costs
a loop hop of its own; events and audio keep the order they were reported in.
"""

import asyncio
import contextlib
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple, Protocol

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
    extra: Mapping[str, str] = field(default_factory=dict)
    """The platform's other identifiers (e.g. Zoom's `user_guid`), for `extra_data`."""


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
class ParticipantUpdated:
    """Their name or host status changed; their id stays."""

    participant: Participant


@dataclass(frozen=True)
class ActiveSpeaker:
    """Who the platform says is speaking now (None: nobody), for attributed audio."""

    key: str | None


@dataclass(frozen=True)
class MixedAudioReceived:
    """The meeting's one mixed stream, where a platform gives no per-participant audio."""

    frame: PcmFrame


@dataclass(frozen=True)
class WaitingRoom:
    """The bot waits to be let in (`in_waiting_room`); `join` has not returned yet."""


@dataclass(frozen=True)
class RecordingPermission:
    """Whether the platform lets the bot capture audio. Zoom asks the host (`asked`),
    and says why it was denied (`sub_code`); other platforms always allow it."""

    granted: bool
    asked: bool = False
    sub_code: str | None = None


@dataclass(frozen=True)
class MeetingEnded:
    """The bot is out of the meeting through no choice of its own."""

    sub_code: str


MeetingEvent = (
    ParticipantJoined
    | ParticipantLeft
    | ParticipantUpdated
    | AudioStarted
    | AudioStopped
    | MixedAudioReceived
    | ActiveSpeaker
    | WaitingRoom
    | RecordingPermission
    | MeetingEnded
)


EventSink = Callable[[MeetingEvent], None]
"""Receives every event, in order, on the bot's event loop. It returns quickly and never raises."""


class AudioInput(Protocol):
    """Where one participant's audio goes: `push` each frame, on the bot's event loop.
    It returns quickly and never raises."""

    def push(self, frame: PcmFrame) -> None: ...


AudioInputs = Callable[[str], AudioInput]
"""The input for a participant's audio, by key: the same object until they leave."""


class _Audio(NamedTuple):
    """A frame reported from another thread, waiting for the loop."""

    key: str
    frame: PcmFrame


class MeetingAdapter(ABC):
    """One bot's presence in one meeting.

    `join` returns once the bot is in the call (or raises `JoinError`); it may be
    cancelled at any point (a leave request, the waiting-room timeout), and
    `leave` is then still called. From the start of `join` until `leave`, every
    event goes to `on_event` and every frame to its participant's input from
    `audio_inputs`, on the loop that called `join`, in the order reported.
    """

    reports_speech: ClassVar[bool] = False
    """The platform says who is speaking (`ActiveSpeaker`) and its word is taken for
    `speech_on`/`speech_off`; otherwise they come from each participant's own audio."""

    exits_hard: ClassVar[bool] = False
    """The platform's library cannot be unloaded cleanly (Zoom's SDK crashes at
    interpreter exit): once the bot is done, its process ends with `os._exit`."""

    def __init__(self) -> None:
        self._sink: EventSink | None = None
        self._audio_inputs: AudioInputs | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._from_threads: deque[MeetingEvent | _Audio] = deque()
        self._wake_scheduled = False
        self._lock = threading.Lock()

    async def join(self, bot_name: str, on_event: EventSink, audio_inputs: AudioInputs) -> None:
        self._sink = on_event
        self._audio_inputs = audio_inputs
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        await self._join(bot_name)

    def _audio_input(self, key: str) -> AudioInput:
        """On the loop: `key`'s input, for an adapter that keeps it by the participant."""
        assert self._audio_inputs is not None, "audio before join"
        return self._audio_inputs(key)

    def _emit(self, event: MeetingEvent) -> None:
        """Report an event; safe from any thread."""
        if self._on_loop():
            assert self._sink is not None
            self._sink(event)
        else:
            self._from_thread(event)

    def _push_audio(self, key: str, frame: PcmFrame) -> None:
        """Report a frame of `key`'s audio; safe from any thread."""
        if self._on_loop():
            self._audio_input(key).push(frame)
        else:
            self._from_thread(_Audio(key, frame))

    def _on_loop(self) -> bool:
        """Whether a report can be handed on now: on the loop, after what other threads
        reported earlier. False before `join` too, and then it is queued."""
        if threading.get_ident() != self._loop_thread:
            return False
        if self._from_threads:
            self._deliver_batch()
        return True

    def _from_thread(self, report: MeetingEvent | _Audio) -> None:
        if self._loop is None:
            return
        with self._lock:
            self._from_threads.append(report)
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        with contextlib.suppress(RuntimeError):  # a closed loop: the bot, and its events, are gone
            self._loop.call_soon_threadsafe(self._deliver_batch)

    def _deliver_batch(self) -> None:
        """On the loop: hand on everything other threads queued since the last wake."""
        with self._lock:
            batch = list(self._from_threads)
            self._from_threads.clear()
            self._wake_scheduled = False
        if self._sink is None or self._audio_inputs is None:
            return
        for report in batch:
            if isinstance(report, _Audio):
                self._audio_inputs(report.key).push(report.frame)
            else:
                self._sink(report)

    @abstractmethod
    async def _join(self, bot_name: str) -> None: ...

    @abstractmethod
    async def leave(self) -> None: ...
