"""Testbed meeting participants: whatever the timeline joins, mutes and makes leave.

A native participant is a real WebRTC publisher made with aiortc in this
process; `SyntheticParticipant` is one in a VideoRoom (the AudioBridge's is in
`audiobridge`, a browser's in `browser`). Every kind mutes the way a meeting
client does, through the room, so the room hears about it: in a VideoRoom,
Janus's `moderate` stops the relay and tells every participant. (`configure`
with `audio: false` also stops the relay but tells nobody.)
"""

import contextlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from unmixed.testbed.janus import (
    JanusError,
    JanusHandle,
    JanusSession,
    JanusUnreachable,
    JsonObject,
)
from unmixed.testbed.room import Display, RoomAddress, moderate


@dataclass
class ParticipantLog:
    """When things happened to this participant, in wall-clock seconds, for checks and benches.

    A mute or unmute is logged at the moment it is asked for (the click), not when
    Janus confirms it: by then the room, and a bot in it, may already have reacted.
    """

    joined_at: float | None = None
    published_at: float | None = None
    left_at: float | None = None
    mutes: list[float] = field(default_factory=list)
    unmutes: list[float] = field(default_factory=list)
    audio_on: list[float] = field(default_factory=list)
    """Each moment the room could start hearing them: an unmuted publish, an unmute."""


class Participant(ABC):
    """What the scenario's timeline does to someone in the room, however they connect."""

    def __init__(self, display: Display) -> None:
        self.display = display
        self.log = ParticipantLog()
        self.feed_id: int | None = None
        """Their id in the Janus room, once joined."""

    @abstractmethod
    async def join(self) -> None: ...

    @abstractmethod
    async def publish(self, *, muted: bool = False) -> None:
        """Start sending audio; `muted` mutes before the room can hear any of it."""

    @abstractmethod
    async def leave(self) -> None:
        """Leave the room and hang up; safe to call twice."""

    @abstractmethod
    async def _set_muted(self, muted: bool) -> None:
        """Ask the room to mute or unmute them."""

    async def mute(self) -> None:
        clicked = time.time()
        await self._set_muted(True)
        self.log.mutes.append(clicked)

    async def unmute(self) -> None:
        clicked = time.time()
        await self._set_muted(False)
        self.log.unmutes.append(clicked)
        self.log.audio_on.append(clicked)

    def _log_published(self, *, muted: bool) -> None:
        self.log.published_at = time.time()
        if not muted:
            self.log.audio_on.append(self.log.published_at)


class NativeParticipant(Participant):
    """An aiortc publisher on its own Janus session; subclasses say which plugin and how.

    It only sends: an AudioBridge mix it never listened to would pile up, decoded,
    in aiortc's queue."""

    plugin: str

    def __init__(self, janus_url: str, display: Display, track: MediaStreamTrack) -> None:
        super().__init__(display)
        self.janus_url = janus_url
        self.track = track
        self._session: JanusSession | None = None
        self._handle: JanusHandle | None = None
        self._peer: RTCPeerConnection | None = None

    @abstractmethod
    def _join_request(self) -> JsonObject: ...

    @abstractmethod
    def _configure_request(self) -> JsonObject:
        """The request that carries the offer."""

    async def join(self) -> None:
        self._session = await JanusSession.create(self.janus_url)
        self._handle = await self._session.attach(self.plugin)
        reply = await self._handle.request(self._join_request())
        self.feed_id = int(reply.data["id"])
        self.log.joined_at = time.time()

    async def publish(self, *, muted: bool = False) -> None:
        handle = self._require_handle()
        self._peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._peer.addTransceiver(self.track, direction="sendonly")
        await self._peer.setLocalDescription(await self._peer.createOffer())
        offer = self._peer.localDescription
        reply = await handle.request(
            self._configure_request(), jsep={"type": offer.type, "sdp": offer.sdp}
        )
        if muted:
            await self.mute()
        answer = reply.jsep or {}
        await self._peer.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
        )
        await handle.trickle_done()
        self._log_published(muted=muted)

    async def leave(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self.log.left_at = time.time()
            with contextlib.suppress(JanusError, JanusUnreachable):
                await handle.request({"request": "leave"})
        if self._peer is not None:
            await self._peer.close()
            self._peer = None
        if self._session is not None:
            await self._session.destroy()
            self._session = None

    def _require_handle(self) -> JanusHandle:
        if self._handle is None:
            raise RuntimeError(f"{self.display.name} is not in the room")
        return self._handle

    def _require_feed(self) -> int:
        if self.feed_id is None:
            raise RuntimeError(f"{self.display.name} has not joined")
        return self.feed_id


class SyntheticParticipant(NativeParticipant):
    """A native participant in a VideoRoom: it publishes its own stream."""

    plugin = "janus.plugin.videoroom"

    def __init__(self, address: RoomAddress, display: Display, track: MediaStreamTrack) -> None:
        super().__init__(address.janus_url, display, track)
        self.address = address

    def _join_request(self) -> JsonObject:
        return {
            "request": "join",
            "ptype": "publisher",
            "display": self.display.encode(),
            **self.address.join_fields(),
        }

    def _configure_request(self) -> JsonObject:
        return {"request": "configure", "audio": True, "video": False}

    async def _set_muted(self, muted: bool) -> None:
        await moderate(self._require_handle(), self.address, self._require_feed(), muted=muted)
