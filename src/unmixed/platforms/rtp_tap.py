"""Take Opus packets straight off an aiortc connection.

aiortc's own audio path suits playback, not a bot that forwards audio in real
time: its jitter buffer holds every packet until four more have arrived (80 ms),
and each frame then hops to a decoder thread and back to the event loop. Its
receive path also costs the bot more than everything it does with the audio:
each datagram is queued, then taken by a task of its own, parsed, routed and
counted. So once SRTP keys are agreed, `tap_receiver` takes RTP packets as the
ICE connection hands them over, decrypts them with the transport's own SRTP
session and hands them on at once (to an `OpusRtpStream`); DTLS and RTCP still
take aiortc's path. Until the keys are agreed (and in case a packet slips
through), the receiver's jitter buffer is swapped for a tap that does the same.
"""

from collections.abc import Callable
from typing import Any

import pylibsrtp
import structlog
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket, is_rtcp

log = structlog.get_logger(__name__)


class RtpTap:
    """Stands in for aiortc's `JitterBuffer`: sees each packet once, now."""

    def __init__(self, on_packet: Callable[[RtpPacket], None]) -> None:
        self._on_packet = on_packet

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self._on_packet(packet)
        return False, None


_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
"""aiortc's private slot for the buffer (checked against aiortc 1.16, the pinned version)."""


def tap_receiver(receiver: RTCRtpReceiver, on_packet: Callable[[RtpPacket], None]) -> None:
    """Route the receiver's packets to `on_packet`; call on `track`, before the first packet.

    Only for a peer connection that receives this one stream: every RTP packet on
    its transport is taken for it.
    """
    if not hasattr(receiver, _JITTER_BUFFER):
        raise RuntimeError("this aiortc keeps its jitter buffer elsewhere; pin aiortc 1.16")
    setattr(receiver, _JITTER_BUFFER, RtpTap(on_packet))
    dtls: Any = receiver.transport
    connection = dtls.transport._connection
    passed_on = connection.data_received

    def data_received(data: bytes, component: int) -> None:
        """Called by aioice from asyncio's datagram callback: must never raise."""
        srtp = dtls._rx_srtp
        if srtp is None or not data or not 127 < data[0] < 192 or is_rtcp(data):
            passed_on(data, component)
            return
        try:
            packet = RtpPacket.parse(srtp.unprotect(data))
        except (pylibsrtp.Error, ValueError):
            return  # not ours, or damaged: aiortc would drop it too
        try:
            on_packet(packet)
        except Exception:
            log.exception("an RTP packet could not be handled; the stream goes on")

    connection.data_received = data_received
