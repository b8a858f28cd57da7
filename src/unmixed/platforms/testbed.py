"""The testbed platform: a Janus VideoRoom on loopback.

The bot joins as a publisher that never publishes (so it hears every room
event) and subscribes to each publisher's audio on its own peer connection.
Janus tells it of joins, leaves, publishes and announced mutes (`moderation`);
the audio's capture time comes from each stream's RTP timestamps.
"""

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from unmixed.egress import EgressPolicy, EgressRefused
from unmixed.media import PcmFrame
from unmixed.media.opus_rtp import OpusRtpStream
from unmixed.platforms.base import (
    AudioInput,
    AudioStarted,
    AudioStopped,
    JoinError,
    MeetingAdapter,
    MeetingEnded,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    RecordingPermission,
)
from unmixed.platforms.rtp_tap import tap_receiver
from unmixed.testbed.janus import JanusError, JanusHandle, JanusSession, JanusUnreachable
from unmixed.testbed.loopback import use_loopback_ice
from unmixed.testbed.room import Display, RoomAddress
from unmixed.wire.realtime import SAMPLE_RATE
from unmixed.wire.status import SubCode

JANUS_NO_SUCH_ROOM = 426
JANUS_UNAUTHORIZED = 433
UNREACHABLE_MESSAGE = "nothing that hosts testbed meetings answered at the meeting's address"
REFUSED_MESSAGE = "this server's egress policy does not let bots connect to the meeting's address"
PENDING_FRAMES = 50
"""At most 1 s of audio held while Janus's `unmuted` event is still on its way."""
DELAY_WINDOW = 10.0
"""Seconds for which a stream's smallest delay counts: longer than a busy spell, short
enough that a sender whose clock runs slow is followed (10 s at 100 ppm is 1 ms)."""

JsonObject = dict[str, Any]

log = structlog.get_logger(__name__)


class MediaClock:
    """Where a stream's media clock (RTP time) falls on wall time.

    A packet's `arrival - media_time` is the moment its stream's media time 0
    was captured, plus however long the packet took to reach the bot. A packet
    never comes early, only late (a busy bot, a sender falling behind, a queue
    on the way), so the smallest value seen lately is the best estimate: the
    first packet, which a busy start delays by hundreds of milliseconds, is not.
    The smallest is kept over the last one or two `window`s: two buckets, the
    one filling and the one before it.
    """

    def __init__(self, window: float = DELAY_WINDOW) -> None:
        self._window = window
        self._bucket_start: float | None = None
        self._bucket = math.inf
        self._previous = math.inf

    def observe(self, arrival: float, media_time: float) -> None:
        """A packet of media time `media_time` (seconds) arrived at Unix time `arrival`."""
        if self._bucket_start is None or arrival - self._bucket_start >= self._window:
            recent = (
                self._bucket_start is not None and arrival - self._bucket_start < 2 * self._window
            )
            self._previous = self._bucket if recent else math.inf
            self._bucket_start, self._bucket = arrival, math.inf
        self._bucket = min(self._bucket, arrival - media_time)

    @property
    def origin(self) -> float:
        """The Unix time of media time 0, as best known now (observe a packet first)."""
        if self._bucket_start is None:
            raise LookupError("no packet observed yet")
        return min(self._bucket, self._previous)


@dataclass
class FeedAudio:
    """The audio state of one publisher, as the bot has pieced it together.

    Each spell of audio (from its start or an unmute to a mute) is dated from
    the clock's best estimate when the spell starts, and keeps that origin to
    its end: its timeline is continuous, and a frame dated earlier than the one
    before it would be dropped downstream as a duplicate.
    """

    destination: AudioInput
    clock: MediaClock = field(default_factory=MediaClock)
    muted: bool = False
    flowing: bool = False
    origin: float = 0.0
    """The Unix time of media time 0 for the spell flowing, or the last one."""
    last_media_end: float | None = None
    """Where the last frame delivered ends, in media seconds."""
    pending: deque[tuple[float, np.ndarray]] = field(
        default_factory=lambda: deque(maxlen=PENDING_FRAMES)
    )

    def start_spell(self, media_time: float) -> None:
        """Date the spell that starts at `media_time` from the best origin known now, but
        never before the last spell ended: one participant's spells never overlap."""
        origin = self.clock.origin
        if self.last_media_end is not None:
            origin = max(origin, self.origin + self.last_media_end - media_time)
        self.origin = origin


class Subscription:
    """The bot's peer connection receiving one publisher's audio."""

    def __init__(self, adapter: "TestbedAdapter", feed: int) -> None:
        self._adapter = adapter
        self.feed = feed
        self._handle: JanusHandle | None = None
        self._peer: RTCPeerConnection | None = None
        self._audio = OpusRtpStream(self._on_audio)

    async def start(self, session: JanusSession, join_fields: dict[str, object]) -> None:
        self._handle = await session.attach()
        reply = await self._handle.request(
            {
                "request": "join",
                "ptype": "subscriber",
                "streams": [{"feed": self.feed}],
                "private_id": self._adapter.private_id,
                **join_fields,
            }
        )
        offer = reply.jsep or {}
        self._peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._peer.on("track", self._on_track)
        sdp = vetted_candidates(offer["sdp"], self._adapter.egress)
        await self._peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=offer["type"]))
        await self._peer.setLocalDescription(await self._peer.createAnswer())
        answer = self._peer.localDescription
        await self._handle.request(
            {"request": "start"}, jsep={"type": answer.type, "sdp": answer.sdp}
        )
        await self._handle.trickle_done()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio" or self._peer is None:
            return
        for transceiver in self._peer.getTransceivers():
            if transceiver.receiver.track is track:
                tap_receiver(transceiver.receiver, self._audio.push)

    def _on_audio(self, media_seconds: float, samples: np.ndarray) -> None:
        """Decoded audio, on the media clock, arriving now."""
        self._adapter.on_frame(self.feed, media_seconds, samples, time.time())

    def end_of_audio(self) -> None:
        """The publisher stopped: what waits behind a gap is handed on now, nothing after."""
        self._audio.close()

    async def stop(self) -> None:
        """Hang up; safe to call more than once."""
        self._audio.close()
        peer, self._peer = self._peer, None
        handle, self._handle = self._handle, None
        if peer is not None:
            await peer.close()
        if handle is not None:
            await handle.detach()


class TestbedAdapter(MeetingAdapter):
    __test__ = False

    def __init__(self, meeting_url: str, egress: EgressPolicy) -> None:
        super().__init__()
        self._address = RoomAddress.from_meeting_url(meeting_url)
        self.egress = egress
        self._session: JanusSession | None = None
        self._handle: JanusHandle | None = None
        self._own_id: int | None = None
        self.private_id: int | None = None
        self._participants: set[int] = set()
        self._feeds: dict[int, FeedAudio] = {}
        self._subscriptions: dict[int, Subscription] = {}
        self._retired: list[Subscription] = []
        """Subscriptions of feeds that stopped publishing, until they have hung up."""
        self._listener: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def _join(self, bot_name: str) -> None:
        use_loopback_ice()
        try:
            destination = await self.egress.resolve(self._address.janus_url)
        except EgressRefused as error:
            raise JoinError(SubCode.MEETING_ADDRESS_REFUSED, REFUSED_MESSAGE) from error
        except OSError as error:
            raise JoinError(SubCode.MEETING_UNREACHABLE, UNREACHABLE_MESSAGE) from error
        try:
            self._session = await JanusSession.create(destination.pinned(self._address.janus_url))
            self._handle = await self._session.attach()
            reply = await self._handle.request(
                {
                    "request": "join",
                    "ptype": "publisher",
                    "display": Display(name=bot_name, is_bot=True).encode(),
                    **self._address.join_fields(),
                }
            )
        except JanusUnreachable as error:
            await self._close_session()
            raise JoinError(SubCode.MEETING_UNREACHABLE, UNREACHABLE_MESSAGE) from error
        except JanusError as error:
            await self._close_session()
            raise _join_error(error) from error
        self._own_id = int(reply.data["id"])
        self.private_id = reply.data.get("private_id")
        for attendee in reply.data.get("attendees", []):
            self._on_joining(attendee)
        self._on_publishers(reply.data.get("publishers", []))
        self._emit(RecordingPermission(granted=True))
        self._listener = asyncio.create_task(self._listen(self._handle), name="room-events")

    async def leave(self) -> None:
        """Hang up every subscription and leave the room; never raises."""
        pending = [*self._background, *([self._listener] if self._listener else [])]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        everyone = [*self._retired, *self._subscriptions.values()]
        try:
            await asyncio.gather(*(s.stop() for s in everyone), return_exceptions=True)
            self._subscriptions.clear()
            self._retired.clear()
            if self._handle is not None:
                with contextlib.suppress(JanusError, JanusUnreachable):
                    await self._handle.request({"request": "leave"})
        finally:
            await self._close_session()

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.destroy()
        self._session = self._handle = None

    async def _listen(self, handle: JanusHandle) -> None:
        while True:
            event = await handle.events.get()
            if event.get("janus") == "session_lost":
                self._emit(MeetingEnded(SubCode.MEETING_CONNECTION_LOST))
                return
            data = event.get("plugindata", {}).get("data", {})
            if data.get("videoroom") == "destroyed":
                self._emit(MeetingEnded(SubCode.CALL_ENDED_BY_HOST))
                return
            if data.get("leaving") == "ok":
                self._emit(MeetingEnded(SubCode.BOT_KICKED_FROM_CALL))
                return
            try:
                self._on_room_event(data)
            except Exception:
                log.exception("room event not understood, ignored", room_event=data)

    def _on_room_event(self, data: JsonObject) -> None:
        if "joining" in data:
            self._on_joining(data["joining"])
        if "publishers" in data:
            self._on_publishers(data["publishers"])
        if "unpublished" in data and isinstance(data["unpublished"], int):
            self._on_unpublished(data["unpublished"])
        for gone in ("leaving", "kicked"):
            if isinstance(data.get(gone), int):
                self._on_leaving(data[gone])
        if "moderation" in data and isinstance(data.get("id"), int):
            self._on_moderation(data["id"], muted=data["moderation"] == "muted")

    def _on_joining(self, entry: JsonObject) -> None:
        feed = int(entry["id"])
        display = Display.decode(entry.get("display"))
        if feed == self._own_id or display.is_bot or feed in self._participants:
            return
        self._participants.add(feed)
        self._emit(
            ParticipantJoined(
                Participant(
                    key=str(feed),
                    name=display.name,
                    is_host=display.is_host,
                    platform="desktop",
                    separation="per_participant",
                )
            )
        )

    def _on_publishers(self, publishers: list[JsonObject]) -> None:
        for entry in publishers:
            feed = int(entry["id"])
            has_audio = any(stream.get("type") == "audio" for stream in entry.get("streams", []))
            if feed == self._own_id or not has_audio or feed in self._subscriptions:
                continue
            self._on_joining(entry)
            if feed not in self._participants:
                continue
            self._feeds[feed] = FeedAudio(self._audio_input(str(feed)))
            subscription = Subscription(self, feed)
            self._subscriptions[feed] = subscription
            self._in_background(self._subscribe(subscription))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _subscribe(self, subscription: Subscription) -> None:
        assert self._session is not None
        try:
            await subscription.start(self._session, self._address.join_fields())
        except Exception:
            log.exception("could not subscribe to a participant's audio", feed=subscription.feed)
            if self._subscriptions.get(subscription.feed) is subscription:
                del self._subscriptions[subscription.feed]
                self._feeds.pop(subscription.feed, None)
            await subscription.stop()

    def _on_unpublished(self, feed: int) -> None:
        subscription = self._subscriptions.pop(feed, None)
        if subscription is None:
            return
        subscription.end_of_audio()
        self._retired.append(subscription)
        self._in_background(self._retire(subscription))
        audio = self._feeds.pop(feed, None)
        if audio is not None and audio.flowing:
            self._emit(AudioStopped(str(feed)))

    async def _retire(self, subscription: Subscription) -> None:
        await subscription.stop()
        self._retired.remove(subscription)

    def _on_leaving(self, feed: int) -> None:
        self._on_unpublished(feed)
        if feed in self._participants:
            self._participants.discard(feed)
            self._emit(ParticipantLeft(str(feed)))

    def _on_moderation(self, feed: int, *, muted: bool) -> None:
        audio = self._feeds.get(feed)
        if audio is None:
            return
        audio.muted = muted
        if muted:
            audio.pending.clear()
            if audio.flowing:
                audio.flowing = False
                self._emit(AudioStopped(str(feed)))
            return
        for media_time, samples in _after_first_jump(audio.pending, audio.last_media_end):
            self._deliver(feed, audio, media_time, samples)
        audio.pending.clear()

    def on_frame(self, feed: int, media_time: float, samples: np.ndarray, arrival: float) -> None:
        """16 kHz audio from a subscription: `media_time` its RTP time in seconds, `arrival`
        the Unix time it arrived."""
        audio = self._feeds.get(feed)
        if audio is None:
            return
        audio.clock.observe(arrival, media_time)
        if audio.muted:
            audio.pending.append((media_time, samples))
            return
        self._deliver(feed, audio, media_time, samples)

    def _deliver(self, feed: int, audio: FeedAudio, media_time: float, samples: np.ndarray) -> None:
        if not audio.flowing:
            audio.start_spell(media_time)
            audio.flowing = True
            self._emit(AudioStarted(str(feed)))
        audio.last_media_end = media_time + len(samples) / SAMPLE_RATE
        audio.destination.push(PcmFrame(samples, SAMPLE_RATE, audio.origin + media_time))


def vetted_candidates(sdp: str, egress: EgressPolicy) -> str:
    """The SDP without ICE candidates the egress policy refuses: the far end
    chooses those addresses, and ICE would send packets to every one of them."""
    kept = []
    for line in sdp.splitlines():
        fields = line.split()
        if line.startswith("a=candidate:") and len(fields) > 4:
            try:
                egress.check_host(fields[4])
            except EgressRefused:
                log.warning("ICE candidate refused by the egress policy")
                continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


def _after_first_jump(
    pending: deque[tuple[float, np.ndarray]], last_media_end: float | None
) -> list[tuple[float, np.ndarray]]:
    """The frames held while muted that were sent after the unmute.

    Frames still in flight when the mute took effect continue the old RTP
    timeline; the first frame after the unmute jumps ahead by the muted time.
    """
    previous_end = last_media_end
    for index, (media_time, samples) in enumerate(pending):
        duration = len(samples) / SAMPLE_RATE
        if previous_end is None or media_time - previous_end > duration:
            return list(pending)[index:]
        previous_end = media_time + duration
    return []


def _join_error(error: JanusError) -> JoinError:
    """Our own words for why the room refused the bot: what Janus said stays in our log."""
    log.warning("the room refused the bot", janus_code=error.code, reason=error.reason)
    if error.code == JANUS_NO_SUCH_ROOM:
        return JoinError(SubCode.MEETING_NOT_FOUND, "the meeting does not exist")
    if error.code == JANUS_UNAUTHORIZED:
        return JoinError(SubCode.MEETING_PASSWORD_INCORRECT, "the meeting refused the bot's pin")
    return JoinError(SubCode.MEETING_JOIN_REFUSED, "the meeting refused to let the bot in")
