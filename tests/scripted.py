"""A meeting played from a script: the runner's rules, tested in milliseconds.

`ScriptedAdapter` is a real `MeetingAdapter` whose meeting is a list of steps:
people join, speak tones, mute, leave; the bot waits in a waiting room, is
refused permission, is thrown out. Audio is stamped on a media clock of its
own and handed over as fast as the runner takes it, so a minute of meeting
takes a fraction of a second, while the runner, media, delivery and a real
websocket receiver do exactly what they do in a real meeting.
"""

import asyncio
import threading
import time
from dataclasses import dataclass

import numpy as np

from tests.recording import Heard
from unmixed.media import Clock, PcmFrame
from unmixed.platforms.base import (
    ActiveSpeaker,
    AudioStarted,
    AudioStopped,
    JoinError,
    MeetingAdapter,
    MeetingEnded,
    MeetingEvent,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    RecordingPermission,
    WaitingRoom,
)

RATE = 48_000
FRAME_SECONDS = 0.02


@dataclass(frozen=True)
class Join:
    key: str
    name: str
    muted: bool = False
    is_host: bool = False


@dataclass(frozen=True)
class Speak:
    """`seconds` of a tone from `key`, on the media clock (which moves on for everyone)."""

    key: str
    hz: float
    seconds: float


@dataclass(frozen=True, eq=False)
class Say:
    """`samples` (mono 16-bit PCM at 48 kHz, e.g. a spoken sentence) from `key`."""

    key: str
    samples: np.ndarray


@dataclass(frozen=True)
class Silence:
    """Media time passes; nobody sends anything."""

    seconds: float


@dataclass(frozen=True)
class Mute:
    key: str


@dataclass(frozen=True)
class Unmute:
    key: str


@dataclass(frozen=True)
class Leave:
    key: str


@dataclass(frozen=True)
class Rename:
    key: str
    name: str
    is_host: bool = False


@dataclass(frozen=True)
class Speaking:
    """The platform says who is speaking (None: nobody), as Zoom's active speaker does."""

    key: str | None


@dataclass(frozen=True)
class Permission:
    granted: bool
    sub_code: str | None = None


@dataclass(frozen=True)
class End:
    sub_code: str


@dataclass(frozen=True)
class Lobby:
    """The bot is put in the waiting room (a step of `lobby`)."""


@dataclass(frozen=True)
class UntilRecording:
    """Wait until the bot records, as a real meeting goes on while the store is written."""


@dataclass(frozen=True)
class FromThread:
    """Play `steps` from another thread, as an SDK's callbacks would arrive."""

    steps: tuple["Step", ...]


Step = (
    Join
    | Speak
    | Say
    | Silence
    | Mute
    | Unmute
    | Leave
    | Rename
    | Speaking
    | Permission
    | End
    | Lobby
    | UntilRecording
)


class ScriptedAdapter(MeetingAdapter):
    """Plays `lobby` while joining (then raises `join_error`, or is let in unless
    `admitted` is False), then `call` once in; `left` tells whether the bot hung up."""

    def __init__(
        self,
        call: list[Step | FromThread],
        *,
        lobby: list[Step] | None = None,
        admitted: bool = True,
        join_error: JoinError | None = None,
        permission: bool = True,
    ) -> None:
        super().__init__()
        self._call = call
        self._lobby = lobby or []
        self._admitted = admitted
        self._join_error = join_error
        self._permission = permission
        self._media_time = time.time()
        self._muted: set[str] = set()
        self._player: asyncio.Task[None] | None = None
        self.recording_started: asyncio.Event | None = None
        """Set by the harness to the runner's own, for `UntilRecording`."""
        self.left = False
        self.lobby_played = asyncio.Event()

    async def _join(self, bot_name: str) -> None:
        for step in self._lobby:
            await self._play(step)
        self.lobby_played.set()
        if self._join_error is not None:
            raise self._join_error
        if not self._admitted:
            await asyncio.Future()  # waits until the runner gives up on it
        if self._permission:
            self._emit(RecordingPermission(granted=True))
        self._player = asyncio.create_task(self._play_call())

    async def leave(self) -> None:
        self.left = True
        if self._player is not None:
            self._player.cancel()

    async def _play_call(self) -> None:
        for step in self._call:
            if isinstance(step, FromThread):
                await asyncio.to_thread(self._play_from_thread, step.steps)
            else:
                await self._play(step)
            await asyncio.sleep(0)

    def _play_from_thread(self, steps: tuple[Step, ...]) -> None:
        assert threading.current_thread() is not threading.main_thread()
        for step in steps:
            self._report(self._events_of(step))

    async def _play(self, step: Step) -> None:
        if isinstance(step, UntilRecording):
            assert self.recording_started is not None, "the harness did not bind the runner"
            await self.recording_started.wait()
            self._media_time = max(self._media_time, time.time())  # nothing before recording
            return
        self._report(self._events_of(step))

    def _report(self, reports: list[MeetingEvent | Heard]) -> None:
        for report in reports:
            if isinstance(report, Heard):
                self._push_audio(report.key, report.frame)
            else:
                self._emit(report)

    def _events_of(self, step: Step) -> list[MeetingEvent | Heard]:
        match step:
            case Join(key, name, muted, is_host):
                if muted:
                    self._muted.add(key)
                joined: list[MeetingEvent | Heard] = [
                    ParticipantJoined(_person(key, name, is_host))
                ]
                return joined if muted else [*joined, AudioStarted(key)]
            case Speak(key, hz, seconds):
                t = np.arange(round(seconds / FRAME_SECONDS) * round(RATE * FRAME_SECONDS)) / RATE
                return self._sound(key, (0.4 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16))
            case Say(key, samples):
                return self._sound(key, samples)
            case Silence(seconds):
                self._media_time += seconds
                return []
            case Mute(key):
                self._muted.add(key)
                return [AudioStopped(key)]
            case Unmute(key):
                self._muted.discard(key)
                return [AudioStarted(key)]
            case Leave(key):
                return [AudioStopped(key), ParticipantLeft(key)]
            case Rename(key, name, is_host):
                return [ParticipantUpdated(_person(key, name, is_host))]
            case Speaking(key):
                return [ActiveSpeaker(key)]
            case Permission(granted, sub_code):
                return [RecordingPermission(granted=granted, asked=True, sub_code=sub_code)]
            case End(sub_code):
                return [MeetingEnded(sub_code)]
            case Lobby():
                return [WaitingRoom()]
            case _:
                raise TypeError(f"not a step the script can play: {step!r}")

    def _sound(self, key: str, samples: np.ndarray) -> list[MeetingEvent | Heard]:
        """`samples` from `key` in 20 ms frames on the media clock (a last partial frame is
        left out)."""
        per_frame = round(RATE * FRAME_SECONDS)
        frames = len(samples) // per_frame
        events: list[MeetingEvent | Heard] = []
        for number in range(frames):
            chunk = samples[number * per_frame : (number + 1) * per_frame]
            captured_at = self._media_time + number * FRAME_SECONDS
            frame = PcmFrame(chunk, RATE, captured_at, Clock.MEDIA)
            if key not in self._muted:
                events.append(Heard(key, frame))
        self._media_time += frames * FRAME_SECONDS
        return events


def _person(key: str, name: str, is_host: bool) -> Participant:
    return Participant(
        key=key, name=name, is_host=is_host, platform="desktop", separation="per_participant"
    )


class SpeakerReportingAdapter(ScriptedAdapter):
    """A platform whose word on who is speaking is taken (as Zoom's is)."""

    reports_speech = True
