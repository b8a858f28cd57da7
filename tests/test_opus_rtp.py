"""`OpusRtpStream`: real Opus packets, as RTP delivers them, to 16 kHz audio in order.

Packets come from libopus (through PyAV's encoder), so the decoder and its
concealment are the real ones; only the order and loss of packets is staged.
"""

import asyncio

import av
import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from unmixed.media.opus_rtp import MAX_REORDER, OpusRtpStream
from unmixed.wire.realtime import SAMPLE_RATE

FRAME_SECONDS = 0.02
FRAME_TICKS = 960
FRAME_SAMPLES = SAMPLE_RATE // 50


def _opus_tone(packets: int, hz: float = 440.0) -> list[bytes]:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32_000
    seconds = np.arange(packets * FRAME_TICKS) / 48_000
    tone = (np.sin(2 * np.pi * hz * seconds) * 8000).astype(np.int16)
    payloads = []
    for start in range(0, len(tone), FRAME_TICKS):
        frame = av.AudioFrame.from_ndarray(
            tone[None, start : start + FRAME_TICKS], format="s16", layout="mono"
        )
        frame.sample_rate = 48_000
        frame.pts = start
        payloads += [bytes(packet) for packet in encoder.encode(frame)]
    return payloads[:packets]


def _rtp(payloads: list[bytes], first_sequence: int = 1000, first_tick: int = 0) -> list[RtpPacket]:
    return [
        RtpPacket(
            payload_type=111,
            sequence_number=(first_sequence + index) % 2**16,
            timestamp=(first_tick + index * FRAME_TICKS) % 2**32,
            payload=payload,
        )
        for index, payload in enumerate(payloads)
    ]


class Decoded:
    """What the stream handed on: (media seconds, samples), and a way to wait for an amount."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, np.ndarray]] = []
        self._changed = asyncio.Event()

    def __call__(self, media_seconds: float, samples: np.ndarray) -> None:
        self.chunks.append((media_seconds, samples))
        self._changed.set()

    async def until(self, chunks: int) -> None:
        async with asyncio.timeout(5):
            while len(self.chunks) < chunks:
                self._changed.clear()
                await self._changed.wait()

    @property
    def times(self) -> list[float]:
        return [round(at, 6) for at, _ in self.chunks]

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate([samples for _, samples in self.chunks])


def _continuous(heard: Decoded) -> bool:
    end = 0.0
    for at, samples in heard.chunks:
        if abs(at - end) > 1e-9:
            return False
        end = at + len(samples) / SAMPLE_RATE
    return True


def _decoded(packets: list[RtpPacket]) -> Decoded:
    heard = Decoded()
    stream = OpusRtpStream(heard)
    for packet in packets:
        stream.push(packet)
    return heard


async def test_packets_in_order_are_decoded_at_once_at_16_khz() -> None:
    heard = _decoded(_rtp(_opus_tone(25)))
    assert [len(samples) for _, samples in heard.chunks] == [FRAME_SAMPLES] * 25
    assert heard.times == [round(index * FRAME_SECONDS, 6) for index in range(25)]
    spectrum = np.abs(np.fft.rfft(heard.audio[SAMPLE_RATE // 10 :]))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(heard.audio[SAMPLE_RATE // 10 :])
    assert abs(peak_hz - 440) < 5


async def test_a_late_packet_is_decoded_in_its_place() -> None:
    packets = _rtp(_opus_tone(25))
    in_order = _decoded(packets)
    swapped = [*packets[:10], packets[11], packets[10], *packets[12:]]
    heard = Decoded()
    stream = OpusRtpStream(heard)
    for packet in swapped:
        stream.push(packet)
    assert stream.concealed_packets == 0
    assert heard.times == in_order.times
    assert np.array_equal(heard.audio, in_order.audio)


async def test_a_lost_packet_is_concealed_after_the_wait() -> None:
    packets = _rtp(_opus_tone(25))
    heard = Decoded()
    stream = OpusRtpStream(heard)
    for packet in packets[:10] + packets[11:13]:
        stream.push(packet)
    assert len(heard.chunks) == 10, "what follows a gap waits for the missing packet"
    await heard.until(13)
    for packet in packets[13:]:
        stream.push(packet)
    assert len(heard.chunks) == 25
    assert stream.concealed_packets == 1
    assert _continuous(heard)
    concealed = heard.chunks[10][1]
    assert len(concealed) == FRAME_SAMPLES
    assert np.sqrt(np.mean(concealed.astype(np.float64) ** 2)) > 1000, "a tone, not silence"


async def test_a_burst_of_loss_beyond_the_reorder_window_is_not_waited_for() -> None:
    packets = _rtp(_opus_tone(25))
    heard = _decoded(packets[:10] + packets[12:])
    assert len(heard.chunks) == 24, "once this many came after the gap, nothing is awaited"
    assert _continuous(heard)


async def test_duplicates_and_packets_too_late_are_dropped() -> None:
    packets = _rtp(_opus_tone(12))
    heard = Decoded()
    stream = OpusRtpStream(heard)
    for packet in [*packets[:5], packets[3], packets[4], *packets[6:]]:
        stream.push(packet)
    await heard.until(12)
    stream.push(packets[5])
    assert len(heard.chunks) == 12
    assert _continuous(heard)


async def test_counters_wrap_around() -> None:
    heard = _decoded(_rtp(_opus_tone(10), first_sequence=65_530, first_tick=2**32 - 3 * 960))
    assert heard.times == [round(index * FRAME_SECONDS, 6) for index in range(10)]


@pytest.mark.parametrize("skipped", [MAX_REORDER + 1, 50])
async def test_a_pause_in_the_stream_is_not_waited_for_nor_concealed(skipped: int) -> None:
    """A forwarder that stops relaying (a mute) resumes further along both counters."""
    packets = _rtp(_opus_tone(10 + skipped))
    heard = _decoded(packets[:5] + packets[5 + skipped :])
    assert len(heard.chunks) == 10
    assert heard.times[5] == round((5 + skipped) * FRAME_SECONDS, 6)


async def test_closing_hands_on_what_waits_behind_a_gap_and_nothing_after() -> None:
    packets = _rtp(_opus_tone(12))
    heard = Decoded()
    stream = OpusRtpStream(heard)
    for packet in [*packets[:5], *packets[6:8]]:
        stream.push(packet)
    assert len(heard.chunks) == 5
    stream.close()
    assert len(heard.chunks) == 8, "the gap concealed, the two after it decoded"
    assert _continuous(heard)
    stream.push(packets[8])
    assert len(heard.chunks) == 8
