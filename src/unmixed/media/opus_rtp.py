"""One participant's Opus over RTP to 16 kHz PCM, in order, with lost packets concealed.

`OpusRtpStream` decodes packets in sequence order the moment they can be. A gap
in the sequence numbers is a packet late or lost: what came after it waits up
to `REORDER_WAIT` for it, then libopus conceals the gap (from the next packet's
in-band FEC where the sender put some, else by extrapolation), so a lost packet
is a smoothed-over 20 ms, not a click of silence. A jump of more than
`MAX_REORDER` packets is no reordering (the forwarder paused the stream, for a
mute): what follows is decoded at once, and the media clock tells the timeline
how much time passed.

It knows RTP's numbering and timing, not how the packets were received, so a
path with no WebRTC at all (the bench's) feeds it the same way.
"""

import asyncio
from collections.abc import Callable
from typing import Protocol

import numpy as np
import structlog

from unmixed.media.opus import OpusDecoder, UndecodablePacket
from unmixed.wire.realtime import SAMPLE_RATE

OPUS_RTP_RATE = 48_000
"""Opus's RTP clock rate, whatever rate the audio was captured or is decoded at."""

TICKS_PER_SAMPLE = OPUS_RTP_RATE // SAMPLE_RATE

REORDER_WAIT = 0.04
"""How long packets after a gap wait for the missing one before it counts as lost."""

MAX_REORDER = 5
"""A sequence jump larger than this many packets is a pause in the stream, not disorder."""

MAX_CONCEAL_SECONDS = 0.12
"""A longer hole is not guessed at: the timeline fills it with silence."""

log = structlog.get_logger(__name__)

AudioCallback = Callable[[float, np.ndarray], None]
"""Receives (seconds on the stream's RTP clock since its first packet, 16 kHz samples)."""


class RtpAudioPacket(Protocol):
    """What the stream reads of an RTP packet (aiortc's `RtpPacket` is one)."""

    @property
    def sequence_number(self) -> int: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def payload(self) -> bytes: ...


class _Unwrapped:
    """A wrapping RTP counter (sequence numbers, timestamps) as an ever-growing integer."""

    def __init__(self, bits: int) -> None:
        self._modulus = 1 << bits
        self._highest: int | None = None

    def __call__(self, value: int) -> int:
        if self._highest is None:
            self._highest = value
            return value
        step = (value - self._highest) % self._modulus
        if step >= self._modulus // 2:
            step -= self._modulus
        unwrapped = self._highest + step
        self._highest = max(self._highest, unwrapped)
        return unwrapped


class OpusRtpStream:
    """One participant's RTP packets in any order in; their audio out, in order, now."""

    def __init__(self, on_audio: AudioCallback) -> None:
        """`on_audio` is called on the event loop and must not raise."""
        self._on_audio = on_audio
        self._decoder = OpusDecoder()
        self._sequence = _Unwrapped(16)
        self._ticks = _Unwrapped(32)
        self._first_tick: int | None = None
        self._next: int | None = None
        """The sequence number to decode next."""
        self._held: dict[int, RtpAudioPacket] = {}
        self._decoded_until: int | None = None
        """Where the audio handed on so far ends, in RTP ticks."""
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.concealed_packets = 0

    def push(self, packet: RtpAudioPacket) -> None:
        if self._closed:
            return
        sequence = self._sequence(packet.sequence_number)
        if self._next is None:
            self._next = sequence
        if sequence < self._next or sequence in self._held:
            return  # a duplicate, or so late that its time has been concealed already
        if sequence - self._next > MAX_REORDER:
            self._decode_all_held()
            self._next = sequence
        self._held[sequence] = packet
        self._decode_in_order()
        self._wait_for_missing()

    def close(self) -> None:
        """The stream has ended: what waits behind a gap is decoded now, nothing after."""
        self._decode_all_held()
        self._cancel_wait()
        self._closed = True
        if self.concealed_packets:
            log.info("lost packets concealed", packets=self.concealed_packets)

    def _decode_all_held(self) -> None:
        """Stop waiting for what is missing: conceal each gap, decode what follows it."""
        while self._held:
            self._skip_gap()
            self._decode_in_order()

    def _cancel_wait(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _decode_in_order(self) -> None:
        assert self._next is not None
        while (packet := self._held.pop(self._next, None)) is not None:
            self._next += 1
            self._decode(packet)

    def _wait_for_missing(self) -> None:
        if not self._held:
            self._cancel_wait()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(REORDER_WAIT, self._waited)

    def _waited(self) -> None:
        self._timer = None
        self._skip_gap()
        self._decode_in_order()
        self._wait_for_missing()

    def _skip_gap(self) -> None:
        """The packets missing before the earliest one held are lost: conceal them."""
        assert self._next is not None
        earliest = min(self._held)
        lost, self._next = earliest - self._next, earliest
        self._conceal(lost, before=self._held[earliest])

    def _conceal(self, lost: int, *, before: RtpAudioPacket) -> None:
        if self._decoded_until is None:
            return
        gap = self._tick(before) - self._decoded_until
        if not 0 < gap <= MAX_CONCEAL_SECONDS * OPUS_RTP_RATE:
            return
        try:
            samples = self._decoder.conceal(gap // TICKS_PER_SAMPLE, before.payload)
        except UndecodablePacket as error:
            log.warning("lost audio could not be concealed", error=str(error))
            return
        self.concealed_packets += lost
        self._hand_on(self._decoded_until, samples)

    def _decode(self, packet: RtpAudioPacket) -> None:
        tick = self._tick(packet)
        if not packet.payload:
            return  # nothing to play: the forwarder kept the stream's clock going
        try:
            samples = self._decoder.decode(packet.payload)
        except UndecodablePacket as error:
            log.warning("undecodable Opus packet skipped", error=str(error))
            return
        self._hand_on(tick, samples)

    def _hand_on(self, tick: int, samples: np.ndarray) -> None:
        if len(samples) == 0:
            return
        self._decoded_until = tick + len(samples) * TICKS_PER_SAMPLE
        assert self._first_tick is not None
        self._on_audio((tick - self._first_tick) / OPUS_RTP_RATE, samples)

    def _tick(self, packet: RtpAudioPacket) -> int:
        tick = self._ticks(packet.timestamp)
        if self._first_tick is None:
            self._first_tick = tick
        return tick
