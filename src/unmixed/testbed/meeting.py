"""A testbed meeting: a Janus room, its web page, and participants playing a scenario."""

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from unmixed.service import Service
from unmixed.testbed import audiobridge
from unmixed.testbed.audio import LoopingAudioTrack, load_wav, tone
from unmixed.testbed.audiobridge import BridgeAddress, BridgeParticipant
from unmixed.testbed.browser import BrowserParticipant, Moderator
from unmixed.testbed.janus import JanusHandle, JanusSession, JanusUnreachable
from unmixed.testbed.loopback import use_loopback_ice
from unmixed.testbed.participant import Participant, SyntheticParticipant
from unmixed.testbed.room import Display, RoomAddress, create_room, destroy_room, moderate
from unmixed.testbed.scenario import Client, RoomKind, Scenario, ScenarioParticipant
from unmixed.testbed.speech import saying
from unmixed.testbed.web_server import WebMeetingServer, web_meeting_url

TrackFactory = Callable[[ScenarioParticipant], MediaStreamTrack]


def scenario_samples(spec: ScenarioParticipant) -> np.ndarray:
    """What a participant says, at 48 kHz: their WAV file, their tone, or their sentence."""
    if spec.audio is not None:
        return load_wav(spec.audio)
    if spec.say is not None:
        return saying(spec.say, spec.voice)
    return tone(spec.tone_hz or 0)


def scenario_track(spec: ScenarioParticipant) -> MediaStreamTrack:
    """The track a scenario asks for: its WAV file, its tone or its sentence, looped."""
    return LoopingAudioTrack(scenario_samples(spec))


class TestbedMeeting(Service):
    """`async with TestbedMeeting(janus_url, scenario) as meeting:` opens the room and its
    web page; `await meeting.play()` runs the timeline; leaving the block ends the meeting.

    `track_for` makes native participants' tracks; browser participants' microphones
    play the scenario's sound as it is."""

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
        self.participants: dict[str, Participant] = {}
        self.address: RoomAddress | None = None
        """The VideoRoom's address; an AudioBridge meeting has `bridge` instead."""
        self.bridge: BridgeAddress | None = None
        self.timeline_origin: float | None = None
        self._session: JanusSession | None = None
        self._handle: JanusHandle | None = None
        self._web: WebMeetingServer | None = None

    @property
    def meeting_url(self) -> str:
        """The testbed:// address bots join natively; only a VideoRoom has one."""
        if self.address is None:
            raise RuntimeError("no testbed:// meeting is open (an AudioBridge room has none)")
        return self.address.meeting_url()

    @property
    def web_meeting_url(self) -> str:
        """The room's web page, which browser participants and browser bots open."""
        room = self.address or self.bridge
        if room is None or self._web is None:
            raise RuntimeError("the meeting is not open")
        return web_meeting_url(self._web.url, self.scenario.room, room.room, room.pin)

    async def start(self) -> None:
        """Open the room and its page and ready everyone; half an opening is closed again."""
        try:
            await self._open()
        except BaseException:
            await self.stop()
            raise

    async def _open(self) -> None:
        use_loopback_ice()
        self._session = await JanusSession.create(self.janus_url)
        self._handle = await self._session.attach(f"janus.plugin.{self.scenario.room.value}")
        if self.scenario.room is RoomKind.AUDIOBRIDGE:
            self.bridge = await audiobridge.create_bridge(self._handle, self.janus_url, self._pin)
        else:
            self.address = await create_room(self._handle, self.janus_url, self._pin)
        self._web = WebMeetingServer(self.janus_url)
        await self._web.start()
        for spec in self.scenario.participants:
            self.participants[spec.name] = self._participant(spec)
        browsers = [p for p in self.participants.values() if isinstance(p, BrowserParticipant)]
        async with asyncio.TaskGroup() as preparing:  # one fails: the others are called off
            for browser in browsers:
                preparing.create_task(browser.prepare())

    def _participant(self, spec: ScenarioParticipant) -> Participant:
        display = Display(name=spec.name, is_host=spec.is_host)
        if spec.client is Client.BROWSER:
            return BrowserParticipant(
                self.web_meeting_url, display, scenario_samples(spec), self._moderator()
            )
        if self.bridge is not None:
            return BridgeParticipant(self.bridge, display, self._track_for(spec))
        assert self.address is not None
        return SyntheticParticipant(self.address, display, self._track_for(spec))

    def _moderator(self) -> Moderator:
        """Muting through the meeting's own handle, for participants who have none."""
        assert self._handle is not None
        if self.bridge is not None:
            return functools.partial(audiobridge.set_muted, self._handle, self.bridge)
        assert self.address is not None
        return functools.partial(moderate, self._handle, self.address)

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

    async def _play_participant(self, spec: ScenarioParticipant, participant: Participant) -> None:
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
            if self._handle is not None:
                with contextlib.suppress(JanusUnreachable):
                    await self._destroy_room(self._handle)
        finally:
            if self._session is not None:
                await self._session.destroy()
            self._session = self._handle = None
            if self._web is not None:
                await self._web.stop()
                self._web = None

    async def _destroy_room(self, handle: JanusHandle) -> None:
        if self.bridge is not None:
            await audiobridge.destroy_bridge(handle, self.bridge)
        elif self.address is not None:
            await destroy_room(handle, self.address)
