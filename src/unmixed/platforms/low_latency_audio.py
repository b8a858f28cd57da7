"""Hand each received Opus packet to the decoder at once, instead of 80 ms later.

aiortc's audio jitter buffer releases a frame only after four more have
arrived, adding 80 ms to every sample before the bot sees it. A bot that
streams audio onwards in real time gains nothing from that wait: every Opus
RTP packet is a whole frame, and a lost packet is better left as a gap (the
timeline is rebuilt from RTP timestamps) than covered by a late one.
"""

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_gt


class ImmediateAudioBuffer:
    """Drop-in for aiortc's `JitterBuffer` on audio: in-order packets pass straight
    through, late or duplicate ones are dropped."""

    def __init__(self) -> None:
        self._last_sequence: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        sequence = packet.sequence_number
        if self._last_sequence is not None and not uint16_gt(sequence, self._last_sequence):
            return False, None
        self._last_sequence = sequence
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


def receive_audio_immediately(receiver: RTCRtpReceiver) -> None:
    """Swap the receiver's jitter buffer; call before its first packet (on `track`)."""
    receiver._RTCRtpReceiver__jitter_buffer = ImmediateAudioBuffer()  # type: ignore[attr-defined]
