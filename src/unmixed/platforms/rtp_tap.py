"""Take Opus packets straight off an aiortc receiver and decode them ourselves.

aiortc's own audio path suits playback, not a bot that forwards audio in real
time: its jitter buffer holds every packet until four more have arrived (80 ms),
and each frame then hops to a decoder thread and back to the event loop. Here
the receiver's jitter buffer is swapped for a tap that hands every in-order
packet to `on_packet` at once and gives aiortc's decoder nothing; lost packets
stay gaps, which the media timeline turns into silence of the right length.
"""

from collections.abc import Callable

import av
import numpy as np
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_gt

OPUS_RATE = 48_000
"""Opus's RTP clock rate, whatever rate the audio was captured at."""


class RtpTap:
    """Stands in for aiortc's `JitterBuffer`: sees each packet once, in order, now."""

    def __init__(self, on_packet: Callable[[RtpPacket], None]) -> None:
        self._on_packet = on_packet
        self._last_sequence: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        sequence = packet.sequence_number
        if self._last_sequence is None or uint16_gt(sequence, self._last_sequence):
            self._last_sequence = sequence
            self._on_packet(packet)
        return False, None


_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
"""aiortc's private slot for the buffer (checked against aiortc 1.16, the pinned version)."""


def tap_receiver(receiver: RTCRtpReceiver, on_packet: Callable[[RtpPacket], None]) -> None:
    """Route the receiver's packets to `on_packet`; call on `track`, before the first packet."""
    if not hasattr(receiver, _JITTER_BUFFER):
        raise RuntimeError("this aiortc keeps its jitter buffer elsewhere; pin aiortc 1.16")
    setattr(receiver, _JITTER_BUFFER, RtpTap(on_packet))


def _opus_decoder() -> av.AudioCodecContext:
    codec = av.CodecContext.create("libopus", "r")
    codec.sample_rate = OPUS_RATE
    codec.layout = "mono"
    codec.format = "s16"
    return codec


class OpusDecoder:
    """Opus packets to mono 16-bit PCM at 48 kHz, each with its place on the RTP clock."""

    def __init__(self) -> None:
        self._codec = _opus_decoder()
        self._last_timestamp: int | None = None
        self._elapsed = 0

    def decode(self, packet: RtpPacket) -> tuple[float, np.ndarray]:
        """(seconds on this stream's RTP clock, samples) for one packet.

        Raises `av.FFmpegError` for a packet libopus rejects; the decoder is
        renewed first, so the packets after it still decode.
        """
        if self._last_timestamp is None:
            self._last_timestamp = packet.timestamp
        step = (packet.timestamp - self._last_timestamp) & 0xFFFFFFFF
        self._elapsed += step if step < 2**31 else step - 2**32
        self._last_timestamp = packet.timestamp
        media_seconds = self._elapsed / OPUS_RATE
        if not packet.payload:  # an empty packet would tell the decoder the stream has ended
            return media_seconds, _NO_SAMPLES
        try:
            frames = self._codec.decode(av.Packet(packet.payload))
        except av.FFmpegError:
            self._codec = _opus_decoder()
            raise
        pcm = [np.frombuffer(bytes(f.planes[0]), dtype=np.int16, count=f.samples) for f in frames]
        return media_seconds, pcm[0] if len(pcm) == 1 else np.concatenate([_NO_SAMPLES, *pcm])


_NO_SAMPLES = np.zeros(0, dtype=np.int16)
