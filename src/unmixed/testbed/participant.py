"""A synthetic meeting participant: a real WebRTC publisher in the Janus room.

It mutes the way a meeting client does, so the room hears about it: Janus's
`moderate` stops the relay and tells every participant. (`configure` with
`audio: false` also stops the relay but tells nobody.)
"""

import contextlib
import time
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from unmixed.testbed.janus import JanusError, JanusHandle, JanusSession, JanusUnreachable
from unmixed.testbed.room import Display, RoomAddress


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


class SyntheticParticipant:
    def __init__(self, address: RoomAddress, display: Display, track: MediaStreamTrack) -> None:
        self.address = address
        self.display = display
        self.track = track
        self.log = ParticipantLog()
        self.feed_id: int | None = None
        self._session: JanusSession | None = None
        self._handle: JanusHandle | None = None
        self._peer: RTCPeerConnection | None = None

    async def join(self) -> None:
        self._session = await JanusSession.create(self.address.janus_url)
        self._handle = await self._session.attach()
        reply = await self._handle.request(
            {
                "request": "join",
                "ptype": "publisher",
                "display": self.display.encode(),
                **self.address.join_fields(),
            }
        )
        self.feed_id = int(reply.data["id"])
        self.log.joined_at = time.time()

    async def publish(self, *, muted: bool = False) -> None:
        """Start sending audio; `muted` mutes before any packet can flow."""
        handle = self._require_handle()
        self._peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._peer.addTrack(self.track)
        await self._peer.setLocalDescription(await self._peer.createOffer())
        offer = self._peer.localDescription
        reply = await handle.request(
            {"request": "configure", "audio": True, "video": False},
            jsep={"type": offer.type, "sdp": offer.sdp},
        )
        if muted:
            await self.mute()
        answer = reply.jsep or {}
        await self._peer.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
        )
        await handle.trickle_done()
        self.log.published_at = time.time()
        if not muted:
            self.log.audio_on.append(self.log.published_at)

    async def mute(self) -> None:
        clicked = time.time()
        await self._moderate(mute=True)
        self.log.mutes.append(clicked)

    async def unmute(self) -> None:
        clicked = time.time()
        await self._moderate(mute=False)
        self.log.unmutes.append(clicked)
        self.log.audio_on.append(clicked)

    async def _moderate(self, *, mute: bool) -> None:
        await self._require_handle().request(
            {
                "request": "moderate",
                "id": self.feed_id,
                "mid": "0",
                "mute": mute,
                **self.address.join_fields(),
            }
        )

    async def leave(self) -> None:
        """Leave the room and hang up; safe to call twice."""
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
