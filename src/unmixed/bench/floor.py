"""The floor: the least any bot must spend on a participant's stream, measured here and now.

It decodes the participants' own Opus (encoded beforehand, untimed, by the very
encoder the testbed's participants use, so the packets are like those the bot
gets) to 16 kHz the cheapest way known, the bot's own (libopus decodes at
16 kHz natively, so there is no resampling left to do), and wraps every 40 ms
in the message the bot sends, filled into the same template. No network, no
WebRTC, no event loop: what is left is the work no bot can skip. Measured in the
bench's own run, on the same machine, the bot's cost per stream reads as a
multiple of it, a figure that means something on a noisy machine.
"""

import base64
import fractions
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
from aiortc.codecs.opus import OpusEncoder

from unmixed.media.opus import OpusDecoder
from unmixed.testbed.audio import FRAME_SAMPLES, SEND_RATE
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    SAMPLE_RATE,
    AudioData,
    AudioEnvelope,
    AudioSeparateRawMessage,
    AudioSeparateRawPayload,
    Participant,
    Timestamp,
)

MESSAGE_SAMPLES = SAMPLE_RATE * 40 // 1000
"""40 ms at 16 kHz: the shortest buffer the bot sends, so the most messages per second."""

WARM_UP_PACKETS = 50
"""A second of audio delivered untimed first: what the libraries do once per process
(loading codecs, building serialisers) is no stream's cost."""

PASSES = 3


@dataclass(frozen=True)
class Floor:
    """CPU spent on decoding and wrapping `stream_seconds` of audio."""

    cpu_seconds: float
    stream_seconds: float
    """Seconds of audio, summed over the streams."""
    messages: int

    @property
    def percent_per_stream(self) -> float:
        """Percent of one core that one real-time stream costs at the floor."""
        return 100 * self.cpu_seconds / self.stream_seconds


def measure_floor(loops: Sequence[np.ndarray], seconds: float) -> Floor:
    """Each loop (mono, 48 kHz) played for `seconds`, through the floor's path."""
    return floor_of_packets([opus_packets(loop, seconds) for loop in loops], seconds)


def floor_of_packets(streams: Sequence[Sequence[bytes]], seconds: float) -> Floor:
    """Streams of `seconds` of Opus packets each, through the floor's path; only the
    decoding and wrapping are timed, on this thread's CPU clock. Given
    the packets, the pipeline bench measures its floor on the very packets it plays.

    The least of `PASSES` passes counts: whatever else the machine does can only
    add to a pass (cache misses, a busy sibling core), never take away."""
    _deliver(streams[0][:WARM_UP_PACKETS], 1)
    passes = [_timed_pass(streams) for _ in range(PASSES)]
    spent, messages = min(passes)
    return Floor(spent, len(streams) * seconds, messages)


def _timed_pass(streams: Sequence[Sequence[bytes]]) -> tuple[float, int]:
    started = time.thread_time()
    messages = sum(_deliver(packets, index + 1) for index, packets in enumerate(streams))
    return time.thread_time() - started, messages


def opus_packets(loop: np.ndarray, seconds: float) -> list[bytes]:
    """The loop as the testbed's participants send it: aiortc's Opus, 20 ms a packet."""
    encoder = OpusEncoder()
    frames = round(seconds * SEND_RATE / FRAME_SAMPLES)
    packets: list[bytes] = []
    for index in range(frames):
        start = index * FRAME_SAMPLES
        chunk = np.take(loop, np.arange(start, start + FRAME_SAMPLES), mode="wrap")
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk.astype(np.int16).tobytes())
        frame.sample_rate = SEND_RATE
        frame.pts = start
        frame.time_base = fractions.Fraction(1, SEND_RATE)
        packets.extend(encoder.encode(frame)[0])
    return packets


def _deliver(packets: Sequence[bytes], participant_id: int) -> int:
    """Decode and wrap one stream's packets; how many messages it made."""
    decoder = OpusDecoder()
    envelope = Envelope(participant_id)
    pending = np.zeros(0, dtype=np.int16)
    messages = 0
    for payload in packets:
        pending = np.concatenate([pending, decoder.decode(payload)])
        while len(pending) >= MESSAGE_SAMPLES:
            envelope.wrap(pending[:MESSAGE_SAMPLES])
            pending = pending[MESSAGE_SAMPLES:]
            messages += 1
    return messages


class Envelope:
    """The message the bot sends for one participant, every field filled as it fills them."""

    def __init__(self, participant_id: int) -> None:
        participant = Participant(
            id=participant_id,
            name=f"speaker-{participant_id}",
            is_host=False,
            platform="desktop",
            extra_data={"platform_id": str(participant_id), "separation": "per_participant"},
        )
        endpoint, audio_separate, recording, bot = (
            ObjectRef(id=str(uuid.uuid4()), metadata={}) for _ in range(4)
        )
        self._started_at = time.time()
        self._template = AudioEnvelope(
            AudioSeparateRawMessage(
                data=AudioSeparateRawPayload(
                    data=AudioData(
                        buffer="", timestamp=Timestamp.at(0, 0), participant=participant
                    ),
                    realtime_endpoint=endpoint,
                    audio_separate=audio_separate,
                    recording=recording,
                    bot=bot,
                )
            )
        )
        self._samples = 0

    def wrap(self, pcm: np.ndarray) -> bytes:
        captured_at = self._started_at + self._samples / SAMPLE_RATE
        self._samples += len(pcm)
        return self._template.encode(
            base64.b64encode(pcm.tobytes()), Timestamp.at(captured_at, self._started_at)
        )
