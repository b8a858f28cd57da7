"""Whose voice is in which track: from what the page reports to the meeting's events.

The capture script reports remote tracks and their PCM; the roster observer
reports who is in the meeting, muted and speaking. How the two meet depends
on the site, so there is one resolver per kind of site (`Attribution`):

- `PerTrackResolver`: each track is one person (an SFU page, the testbed's
  VideoRoom). Separation is real: `per_participant`.
- `ActiveSpeakerResolver`: one mixed track, cut by the speaking indicators
  (Teams, the testbed's AudioBridge). Each unmuted person gets a stream of the
  mix while they are marked speaking and silence otherwise: `attributed`, and
  overlapping speech goes to everyone speaking.
- `ContributingSourceResolver`: a few tracks each carry whoever is loudest, and
  each packet's contributing source names them (Google Meet): `per_participant`
  where the roster knows a person's source, `attributed` by speaking otherwise.
"""

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from unmixed.media import PcmFrame
from unmixed.media.frames import Clock
from unmixed.platforms.base import (
    AudioStarted,
    AudioStopped,
    MeetingEvent,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
)
from unmixed.platforms.browser.capture import PcmBatch, RosterChanged, TrackChanged, TrackOpened
from unmixed.platforms.browser.profiles import Attribution
from unmixed.platforms.browser.roster import RosterEntry
from unmixed.wire.realtime import ParticipantPlatform, Separation

Emit = Callable[[MeetingEvent], None]
PushAudio = Callable[[str, PcmFrame], None]

SPEAKING_SIGNAL_LAG = 0.15
"""How far a speaking indicator trails the voice it marks, in the page's audio.
The testbed's AudioBridge reports talking 100-270 ms after a sender starts, and
its mix reaches the page 50-150 ms after the sender; a mixed frame is therefore
judged by the indicator 150 ms after it, and held that long before it is sent."""


MAX_HELD_SECONDS = 1.0
"""Mixed audio held for judgement beyond this is judged at once: the bot's
loop, not the page, decides how far behind it may fall."""

MAX_TRACKS = 256
"""Remote audio tracks followed at once; Meet forwards three, an SFU page one per person."""

CLOCK_SLIP = 1.0
"""A track whose clock strays this far from arrival time is anchored again: its
clock jumped (a renegotiation, a reused transceiver) or the page lies about it."""


@dataclass
class TrackClock:
    """Where a track's own sample clock sits in Unix time, anchored at arrival."""

    mid: str | None
    offset: float | None = None

    def captured_at(self, batch: PcmBatch) -> float:
        """When the batch's first sample was captured; re-anchored if the track's
        clock no longer agrees with when its batches arrive."""
        duration = len(batch.samples) / batch.sample_rate
        arrival_says = batch.arrived_at - duration
        if self.offset is None or abs(self.offset + batch.media_time - arrival_says) > CLOCK_SLIP:
            self.offset = arrival_says - batch.media_time
        return self.offset + batch.media_time


class Resolver(ABC):
    """The roster half every resolver shares: who joined, changed and left."""

    def __init__(
        self, emit: Emit, push_audio: PushAudio, platform: ParticipantPlatform | None
    ) -> None:
        self._emit = emit
        self._push_audio = push_audio
        self._platform = platform
        self.people: dict[str, RosterEntry] = {}
        self._flowing: set[str] = set()
        self._tracks: dict[int, TrackClock] = {}

    @abstractmethod
    def separation_of(self, entry: RosterEntry) -> Separation: ...

    @abstractmethod
    def on_batch(self, batch: PcmBatch) -> None: ...

    def on_track(self, signal: TrackOpened | TrackChanged) -> None:
        """Track what the page announced; audio of a track it never announced is dropped."""
        if isinstance(signal, TrackChanged) and signal.ended:
            self._tracks.pop(signal.track, None)
        elif signal.track in self._tracks:
            self._tracks[signal.track].mid = signal.mid
        elif isinstance(signal, TrackOpened) and len(self._tracks) < MAX_TRACKS:
            self._tracks[signal.track] = TrackClock(signal.mid)

    def on_roster(self, change: RosterChanged) -> None:
        now = {entry.key: entry for entry in change.entries}
        for key in [key for key in self.people if key not in now]:
            self._set_flowing(key, flowing=False)
            del self.people[key]
            self._emit(ParticipantLeft(key))
        for key, entry in now.items():
            before = self.people.get(key)
            self.people[key] = entry
            if before is None:
                self._emit(ParticipantJoined(self._participant(entry)))
            elif (before.name, before.host) != (entry.name, entry.host):
                self._emit(ParticipantUpdated(self._participant(entry)))
            if entry.muted:
                self._set_flowing(key, flowing=False)

    def _participant(self, entry: RosterEntry) -> Participant:
        return Participant(
            key=entry.key,
            name=entry.name,
            is_host=entry.host,
            platform=self._platform,
            separation=self.separation_of(entry),
        )

    def _set_flowing(self, key: str, *, flowing: bool) -> None:
        if flowing and key not in self._flowing:
            self._flowing.add(key)
            self._emit(AudioStarted(key))
        elif not flowing and key in self._flowing:
            self._flowing.discard(key)
            self._emit(AudioStopped(key))

    def _deliver(self, key: str, frame: PcmFrame) -> None:
        self._set_flowing(key, flowing=True)
        self._push_audio(key, frame)

    def _audible(self, key: str | None) -> bool:
        entry = self.people.get(key) if key is not None else None
        return entry is not None and not entry.muted


class PerTrackResolver(Resolver):
    """Each remote track is one person; the roster names the track by its `mid`."""

    def separation_of(self, entry: RosterEntry) -> Separation:
        return "per_participant"

    def _owner(self, mid: str | None) -> str | None:
        if mid is None:
            return None
        return next((key for key, entry in self.people.items() if entry.track == mid), None)

    def on_track(self, signal: TrackOpened | TrackChanged) -> None:
        if isinstance(signal, TrackChanged) and (signal.muted or signal.ended):
            owner = self._owner(signal.mid)
            if owner is not None:
                self._set_flowing(owner, flowing=False)
        super().on_track(signal)

    def on_batch(self, batch: PcmBatch) -> None:
        clock = self._tracks.get(batch.track)
        if clock is None:
            return
        owner = self._owner(clock.mid)
        if owner is None or not self._audible(owner):
            return
        self._deliver(owner, PcmFrame(batch.samples, batch.sample_rate, clock.captured_at(batch)))


@dataclass(frozen=True)
class HeldBatch:
    batch: PcmBatch
    captured_at: float

    @property
    def judged_at(self) -> float:
        """The moment whose speaking indicators say whose voice this is."""
        middle = self.captured_at + len(self.batch.samples) / self.batch.sample_rate / 2
        return middle + SPEAKING_SIGNAL_LAG


class ActiveSpeakerResolver(Resolver):
    """One mixed track, attributed to whoever the page marks as speaking."""

    def __init__(
        self, emit: Emit, push_audio: PushAudio, platform: ParticipantPlatform | None
    ) -> None:
        super().__init__(emit, push_audio, platform)
        self._held: dict[int, deque[HeldBatch]] = {}
        """Per track: a mixed track is judged on its own, so one can never hold up another."""
        self._speakers: deque[tuple[float, frozenset[str]]] = deque([(0.0, frozenset())])
        """When the set of audible speakers changed, oldest first."""

    def separation_of(self, entry: RosterEntry) -> Separation:
        return "attributed"

    def on_roster(self, change: RosterChanged) -> None:
        super().on_roster(change)
        speaking = frozenset(
            key for key, entry in self.people.items() if entry.speaking and not entry.muted
        )
        if speaking != self._speakers[-1][1]:
            self._speakers.append((change.at, speaking))

    def on_batch(self, batch: PcmBatch) -> None:
        clock = self._tracks.get(batch.track)
        if clock is None:
            return
        held = self._held.setdefault(batch.track, deque())
        held.append(HeldBatch(batch, clock.captured_at(batch)))
        oldest_kept = batch.arrived_at - MAX_HELD_SECONDS
        while held and (held[0].judged_at <= batch.arrived_at or held[0].captured_at < oldest_kept):
            self._attribute(held.popleft())

    def on_track(self, signal: TrackOpened | TrackChanged) -> None:
        super().on_track(signal)
        if isinstance(signal, TrackChanged) and signal.ended:
            self._held.pop(signal.track, None)

    def _speaking_at(self, moment: float) -> frozenset[str]:
        while len(self._speakers) > 1 and self._speakers[1][0] <= moment:
            self._speakers.popleft()
        return self._speakers[0][1]

    def _attribute(self, held: HeldBatch) -> None:
        batch = held.batch
        speaking = self._speaking_at(held.judged_at)
        voice = PcmFrame(batch.samples, batch.sample_rate, held.captured_at)
        silence: PcmFrame | None = None
        for key in [key for key in self.people if self._audible(key)]:
            if key in speaking:
                self._deliver(key, voice)
                continue
            if silence is None:
                silence = PcmFrame(
                    np.zeros_like(batch.samples), batch.sample_rate, held.captured_at
                )
            self._deliver(key, silence)


class ContributingSourceResolver(Resolver):
    """A few forwarded tracks, each packet naming its speaker by contributing source."""

    def separation_of(self, entry: RosterEntry) -> Separation:
        return "per_participant" if entry.source else "attributed"

    def on_batch(self, batch: PcmBatch) -> None:
        if batch.track not in self._tracks:
            return
        duration = len(batch.samples) / batch.sample_rate
        frame = PcmFrame(
            batch.samples, batch.sample_rate, batch.arrived_at - duration, Clock.ARRIVAL
        )
        source = str(batch.contributing_source) if batch.contributing_source else None
        named = next(
            (key for key, entry in self.people.items() if source and entry.source == source),
            None,
        )
        if named is not None:
            if self._audible(named):
                self._deliver(named, frame)
            return
        for key, entry in list(self.people.items()):
            if not entry.source and entry.speaking and not entry.muted:
                self._deliver(key, frame)


RESOLVERS: dict[Attribution, type[Resolver]] = {
    Attribution.PER_TRACK: PerTrackResolver,
    Attribution.ACTIVE_SPEAKER: ActiveSpeakerResolver,
    Attribution.CONTRIBUTING_SOURCE: ContributingSourceResolver,
}
