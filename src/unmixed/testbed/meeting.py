"""A testbed meeting: a Janus room and synthetic participants playing a scenario."""

import asyncio
import contextlib
import time
from collections.abc import Callable

from aiortc.mediastreams import MediaStreamTrack

from unmixed.service import Service
from unmixed.testbed.audio import LoopingAudioTrack, load_wav, tone
from unmixed.testbed.janus import JanusHandle, JanusSession, JanusUnreachable
from unmixed.testbed.loopback import use_loopback_ice
from unmixed.testbed.participant import SyntheticParticipant
from unmixed.testbed.room import Display, RoomAddress, create_room, destroy_room
from unmixed.testbed.scenario import Scenario, ScenarioParticipant

TrackFactory = Callable[[ScenarioParticipant], MediaStreamTrack]


def scenario_track(spec: ScenarioParticipant) -> MediaStreamTrack:
    """The track a scenario asks for: its WAV file or its tone, looped."""
    samples = load_wav(spec.audio) if spec.audio is not None else tone(spec.tone_hz or 0)
    return LoopingAudioTrack(samples)


class TestbedMeeting(Service):
    """`async with TestbedMeeting(janus_url, scenario) as meeting:` opens the room;
    `await meeting.play()` runs the timeline; leaving the block ends the meeting."""

    __test__ = False

    def __init__(
        self,
        janus_url: str,
        scenario: Scenario,
        *,
        track_for: TrackFactory = scenario_track,
        pin: str | None = None,
    ) -> None:
        self.janus_url = janus_url
        self.scenario = scenario
        self._track_for = track_for
        self._pin = pin
        self.participants: dict[str, SyntheticParticipant] = {}
        self.address: RoomAddress | None = None
        self.timeline_origin: float | None = None
        self._session: JanusSession | None = None
        self._handle: JanusHandle | None = None

    @property
    def meeting_url(self) -> str:
        if self.address is None:
            raise RuntimeError("the meeting is not open")
        return self.address.meeting_url()

    async def start(self) -> None:
        use_loopback_ice()
        self._session = await JanusSession.create(self.janus_url)
        self._handle = await self._session.attach()
        self.address = await create_room(self._handle, self.janus_url, self._pin)
        for spec in self.scenario.participants:
            display = Display(name=spec.name, is_host=spec.is_host)
            self.participants[spec.name] = SyntheticParticipant(
                self.address, display, self._track_for(spec)
            )

    async def play(self) -> None:
        """Play the whole timeline; times count from this call."""
        self.timeline_origin = time.monotonic()
        timelines = [
            self._play_participant(spec, self.participants[spec.name])
            for spec in self.scenario.participants
        ]
        async with asyncio.TaskGroup() as group:
            for timeline in timelines:
                group.create_task(timeline)
        await self._until(self.scenario.duration)

    async def _play_participant(
        self, spec: ScenarioParticipant, participant: SyntheticParticipant
    ) -> None:
        end = spec.leave_at if spec.leave_at is not None else self.scenario.duration
        await self._until(spec.join_at)
        await participant.join()
        await participant.publish(muted=spec.muted_at(spec.join_at))
        changes = sorted(
            {
                moment
                for interval in spec.muted
                for moment in interval
                if spec.join_at < moment < end
            }
        )
        for moment in changes:
            await self._until(moment)
            if spec.muted_at(moment):
                await participant.mute()
            else:
                await participant.unmute()
        if spec.leave_at is not None:
            await self._until(spec.leave_at)
            await participant.leave()

    async def _until(self, moment: float) -> None:
        assert self.timeline_origin is not None
        await asyncio.sleep(max(0.0, self.timeline_origin + moment - time.monotonic()))

    async def stop(self) -> None:
        """Everyone leaves and the room is destroyed, as when a host ends the call.

        A Janus that is already gone (killed, in the fault tests) has no room left
        to destroy; the session is let go of all the same."""
        await asyncio.gather(*(p.leave() for p in self.participants.values()))
        try:
            if self._handle is not None and self.address is not None:
                with contextlib.suppress(JanusUnreachable):
                    await destroy_room(self._handle, self.address)
        finally:
            if self._session is not None:
                await self._session.destroy()
            self._session = self._handle = None
