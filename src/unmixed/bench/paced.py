"""A meeting without a network: each participant's Opus RTP packets, pushed at real rate.

The pipeline bench's adapter. It starts where the testbed adapter's WebRTC
receive path ends: each participant's packets go through an `OpusRtpStream`
into their `AudioInput`, decoded audio stamped on the stream's media clock
anchored at its first sample (the testbed's subscriptions refine theirs; here the
packets are never late). No ICE, DTLS,
SRTP or SFU, so what the bot process spends beyond the adapter's own few
callbacks is media and delivery alone.

Every participant sends one 20 ms packet every 20 ms, each on its own phase of
the 20 ms (as packets from separate senders would arrive), at moments fixed
from the start on the loop's clock: a late callback makes the next one no later.
"""

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from unmixed.media import PcmFrame
from unmixed.media.opus_rtp import OPUS_RTP_RATE, OpusRtpStream
from unmixed.platforms.base import (
    AudioInput,
    AudioStarted,
    MeetingAdapter,
    MeetingEnded,
    Participant,
    ParticipantJoined,
    RecordingPermission,
)
from unmixed.wire.realtime import SAMPLE_RATE
from unmixed.wire.status import SubCode

PACKET_SECONDS = 0.02
PACKET_TICKS = round(OPUS_RTP_RATE * PACKET_SECONDS)


class _Packet(NamedTuple):
    """An RTP packet, as much of it as the stream reads."""

    sequence_number: int
    timestamp: int
    payload: bytes


@dataclass(frozen=True)
class PacedSpeaker:
    """One participant: their name and their Opus packets, 20 ms each, in order."""

    name: str
    packets: Sequence[bytes]


class _Feed:
    """One participant's packets, as RTP, pushed at their moments on the loop's clock."""

    def __init__(
        self, packets: Sequence[bytes], audio: AudioInput, on_done: Callable[[], None]
    ) -> None:
        self._packets = packets
        self._audio = audio
        self._on_done = on_done
        self._stream = OpusRtpStream(self._on_audio)
        self._first_sequence = random.getrandbits(16)
        self._first_tick = random.getrandbits(32)
        """Random starts, as RFC 3550 has senders pick them: counters wrap as in a call."""
        self._sent = 0
        self._first_at = 0.0
        self._anchor: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self, first_at: float) -> None:
        """Push the first packet at `first_at` (loop time), then one every 20 ms."""
        self._first_at = first_at
        self._timer = asyncio.get_running_loop().call_at(first_at, self._push_next)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stream.close()

    def _push_next(self) -> None:
        self._stream.push(
            _Packet(
                sequence_number=(self._first_sequence + self._sent) & 0xFFFF,
                timestamp=(self._first_tick + self._sent * PACKET_TICKS) & 0xFFFFFFFF,
                payload=self._packets[self._sent],
            )
        )
        self._sent += 1
        if self._sent == len(self._packets):
            self._timer = None
            self._on_done()
            return
        at = self._first_at + self._sent * PACKET_SECONDS
        self._timer = asyncio.get_running_loop().call_at(at, self._push_next)

    def _on_audio(self, media_seconds: float, samples: np.ndarray) -> None:
        """Decoded audio, on the media clock; the first of it anchors that clock to now."""
        if self._anchor is None:
            self._anchor = time.time() - media_seconds
        self._audio.push(PcmFrame(samples, SAMPLE_RATE, self._anchor + media_seconds))


class PacedAdapter(MeetingAdapter):
    """Everyone joins and is heard at once; the meeting ends when all packets are sent.

    Set `recording_started` to the runner's own event to hold the packets until
    the bot records: then every sample sent is one the receiver must get.
    """

    def __init__(self, speakers: Sequence[PacedSpeaker]) -> None:
        super().__init__()
        self._speakers = speakers
        self._feeds: dict[str, _Feed] = {}
        self._playing = 0
        self._player: asyncio.Task[None] | None = None
        self.recording_started: asyncio.Event | None = None

    async def _join(self, bot_name: str) -> None:
        keys = [str(index + 1) for index in range(len(self._speakers))]
        for key, speaker in zip(keys, self._speakers, strict=True):
            self._emit(ParticipantJoined(_participant(key, speaker.name)))
        self._emit(RecordingPermission(granted=True))
        self._feeds = {
            key: _Feed(speaker.packets, self._audio_input(key), self._feed_done)
            for key, speaker in zip(keys, self._speakers, strict=True)
        }
        self._player = asyncio.create_task(self._play(), name="paced-speakers")

    async def leave(self) -> None:
        if self._player is not None:
            self._player.cancel()
        for feed in self._feeds.values():
            feed.stop()

    async def _play(self) -> None:
        if self.recording_started is not None:
            await self.recording_started.wait()
        started = asyncio.get_running_loop().time()
        self._playing = len(self._feeds)
        for index, (key, feed) in enumerate(self._feeds.items()):
            self._emit(AudioStarted(key))
            feed.start(started + index * PACKET_SECONDS / len(self._feeds))

    def _feed_done(self) -> None:
        self._playing -= 1
        if self._playing == 0:
            self._emit(MeetingEnded(SubCode.CALL_ENDED_BY_HOST))


def _participant(key: str, name: str) -> Participant:
    return Participant(
        key=key, name=name, is_host=False, platform="desktop", separation="per_participant"
    )
