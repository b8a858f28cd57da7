"""Samples lost between a participant and the receiver: expected minus received, per stream.

Expected: every sample of the time the room relayed a participant (from an
unmuted publish or an unmute to the next mute or their leaving, as their log
has it), placed on the bot's timeline. Received: those of these samples that
some message carried. `EDGE_MARGIN` is left out at both ends of each spell, for
the room to act on the click; and a stream's first spell starts no earlier than
its first sample, since before it the bot was still subscribing to someone who
had just arrived (what the publish delay measures). So a healthy stream loses
exactly nothing.

What is lost is told apart by where: inside a connection (between two of its
messages: the bot or its delivery dropped audio while streaming), or at a
spell's edge beyond the margin (a connection that opened late or closed early:
on a loaded machine the mute can reach the bot before the audio that preceded
it, and the room itself can act late on a click). What this cannot see: a
packet lost before the bot (on the network, in the SFU, in a socket buffer that
overflowed) is concealed by the decoder, or becomes silence of the right length
in the bot's stream, so it arrives as samples; only its sound could tell.

Placing the log's wall-clock moments on the bot's timeline takes two steps.
The bot dates samples by the stream's RTP clock, which is the speaker's own
sample count; and the speakers, in the bench's busy process, fall behind real
time while the fleet starts (by up to 0.8 s on 2 cores) and catch up later, so
a frame's place on that clock is not the moment it left. `SenderClock` recovers
each speaker's clock from its beeps, which are exactly `BEEP_PERIOD` apart on
it; a mute at wall time T cuts the frame that left at T, at its place on that
clock. Then the bot's offset from that clock is read off the beeps each
connection carried: a connection keeps one offset, but the next may start
from a better estimate.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unmixed.bench.latency import onset_samples
from unmixed.bench.speakers import BEEP_PERIOD
from unmixed.receiver import ParticipantAudio
from unmixed.receiver.tracks import Arrival
from unmixed.testbed.participant import ParticipantLog
from unmixed.wire.realtime import SAMPLE_RATE

EDGE_MARGIN = 0.25
"""Seconds at each end of a spell not counted: a mute or unmute reaches the room
and the bot within tens of milliseconds when the machine is idle."""

Spell = tuple[float, float]
"""[start, end) in seconds."""

SampleRange = tuple[int, int]
"""[start, end) as sample indices on a recording's timeline."""


@dataclass(frozen=True)
class Tally:
    expected: int
    received: int
    lost_inside: int
    """Of the samples lost, those between two messages of one connection."""

    @property
    def lost(self) -> int:
        return self.expected - self.received


@dataclass(frozen=True)
class StreamLoss:
    """One participant as one bot delivered them."""

    bot_id: str
    participant: str
    tally: Tally


def relayed_spells(log: ParticipantLog, until: float) -> list[Spell]:
    """Wall-clock spells in which the room relayed the participant's audio."""
    ends = sorted([*log.mutes, log.left_at if log.left_at is not None else until])
    return [(on, next((end for end in ends if end > on), until)) for on in sorted(log.audio_on)]


def tally(spells: list[Spell], connections: list[list[SampleRange]]) -> Tally:
    """What the spells (seconds on the stream's timeline) should hold, against what the
    connections' messages (each a range of samples) carried."""
    covered = [piece for pieces in connections for piece in pieces]
    if covered:
        first = min(start for start, _ in covered) / SAMPLE_RATE
        spells = [(max(start, first), end) for start, end in spells]
    ranges = [
        (
            max(0, round((start + EDGE_MARGIN) * SAMPLE_RATE)),
            round((end - EDGE_MARGIN) * SAMPLE_RATE),
        )
        for start, end in spells
    ]
    ranges = [(start, end) for start, end in ranges if end > start]
    length = max([end for _, end in [*ranges, *covered]], default=0)
    carried = np.zeros(length, dtype=bool)
    streaming = np.zeros(length, dtype=bool)
    for pieces in connections:
        for start, end in pieces:
            carried[max(0, start) : end] = True
        if pieces:
            streaming[max(0, min(s for s, _ in pieces)) : max(e for _, e in pieces)] = True
    hole = streaming & ~carried
    return Tally(
        expected=sum(end - start for start, end in ranges),
        received=sum(int(np.count_nonzero(carried[start:end])) for start, end in ranges),
        lost_inside=sum(int(np.count_nonzero(hole[start:end])) for start, end in ranges),
    )


class SenderClock:
    """A speaker's own clock, the one its RTP timestamps count, in Unix seconds.

    Beep k is `BEEP_PERIOD` after beep k - 1 on it, whenever either left; a beep
    that left late shows by how much the speaker was behind then. The speaker is
    taken to be on time when it was least behind."""

    def __init__(self, beeps_sent: Sequence[float]) -> None:
        sent = np.asarray(beeps_sent, dtype=np.float64)
        steps = np.arange(len(sent)) * BEEP_PERIOD
        self.beeps = (sent - steps).min(initial=np.inf) + steps
        """When each beep was captured, on this clock."""
        self.sent = sent
        """When each beep left, Unix time."""
        self._behind = sent - self.beeps

    def at(self, wall_time: float) -> float:
        """Where on this clock the frame that left at `wall_time` was captured."""
        if len(self.sent) == 0:
            return wall_time
        return wall_time - float(np.interp(wall_time, self.sent, self._behind))


def connection_offsets(
    audio: ParticipantAudio, clock: SenderClock, origin: float
) -> list[float | None]:
    """Per connection, how much later than the speaker's clock the bot dated its samples
    (None: it carried no beep onset); `origin` is the Unix time of relative 0.

    An onset is the beep that last left the speaker before its message arrived:
    the bot may date it more than a beep period late, but it cannot deliver it
    before it was sent."""
    onsets = onset_samples(audio)
    offsets: list[float | None] = []
    for connection, pieces in zip(audio.connections, connection_ranges(audio), strict=True):
        behind = []
        for index in onsets:
            holding = [n for n, (start, end) in enumerate(pieces) if start <= index < end]
            if not holding:
                continue
            arrived = connection.arrivals[holding[0]].arrived_at
            beep = int(np.searchsorted(clock.sent, arrived, side="right")) - 1
            if beep >= 0:
                behind.append(origin + index / SAMPLE_RATE - float(clock.beeps[beep]))
        offsets.append(float(np.median(behind)) if behind else None)
    return offsets


def connection_ranges(audio: ParticipantAudio) -> list[list[SampleRange]]:
    """The samples each message carried, on the recording's timeline, connection by connection.

    A connection's timeline need not start on a whole sample of the recording's, and
    `relative` has microseconds: rounding each message's start on its own would
    leave one-sample holes and overlaps where the fraction is near a half. So each
    message is placed from the connection's first, by whole samples."""
    return [_message_ranges(connection.arrivals) for connection in audio.connections]


def _message_ranges(arrivals: Sequence[Arrival]) -> list[SampleRange]:
    if not arrivals:
        return []
    first = arrivals[0].relative
    base = round(first * SAMPLE_RATE)
    ranges = []
    for arrival in arrivals:
        start = base + round((arrival.relative - first) * SAMPLE_RATE)
        ranges.append((start, start + arrival.samples))
    return ranges


def recording_origin(audio: ParticipantAudio) -> float | None:
    """The Unix time of relative 0 on the bot's timeline, from any message's two timestamps."""
    for connection in audio.connections:
        for arrival in connection.arrivals:
            return arrival.captured_at - arrival.relative
    return None


def capture_offset(audio: ParticipantAudio, sent: list[float], origin: float) -> float | None:
    """How much later than the moment a sample left the participant the bot dates it.

    The bot dates a stream's samples from its best estimate of when the stream's
    media clock started, which a busy start can make late; beep onsets, whose
    departure was logged, tell how late, so the log's moments land on the
    stream's own timeline. None: no onset heard."""
    offsets = []
    for index in onset_samples(audio):
        captured = origin + index / SAMPLE_RATE
        earlier = [moment for moment in sent if moment <= captured]
        if earlier and captured - earlier[-1] < BEEP_PERIOD / 2:
            offsets.append(captured - earlier[-1])
    return float(np.median(offsets)) if offsets else None


def stream_loss(
    bot_id: str,
    name: str,
    audio: ParticipantAudio | None,
    log: ParticipantLog,
    origin: float,
    clock: SenderClock,
    until: float,
) -> StreamLoss:
    """`audio`: what one bot delivered of participant `name` (None: nothing);
    `origin`: the Unix time of the bot's relative 0; `clock`: the participant's."""
    if audio is None:
        return StreamLoss(bot_id, name, tally([], []))
    connections = connection_ranges(audio)
    offsets = _filled(connection_offsets(audio, clock, origin))
    spells = [
        _on_timeline((clock.at(start) - origin, clock.at(end) - origin), connections, offsets)
        for start, end in relayed_spells(log, until)
    ]
    return StreamLoss(bot_id, name, tally(spells, connections))


def _filled(offsets: list[float | None]) -> list[float]:
    """A connection that carried no onset takes the offset of the nearest one that did."""
    known = [(index, offset) for index, offset in enumerate(offsets) if offset is not None]
    if not known:
        return [0.0] * len(offsets)
    return [
        offset if offset is not None else min(known, key=lambda k: abs(k[0] - index))[1]
        for index, offset in enumerate(offsets)
    ]


def _on_timeline(spell: Spell, connections: list[list[SampleRange]], offsets: list[float]) -> Spell:
    """`spell` (on the speaker's clock, from relative 0) moved by the offset of the
    connection that, so moved, carried most of it."""

    def overlap(index: int) -> float:
        pieces = connections[index]
        if not pieces:
            return 0.0
        start = min(s for s, _ in pieces) / SAMPLE_RATE
        end = max(e for _, e in pieces) / SAMPLE_RATE
        return min(end, spell[1] + offsets[index]) - max(start, spell[0] + offsets[index])

    if not offsets:
        return spell
    best = max(range(len(offsets)), key=overlap)
    return spell[0] + offsets[best], spell[1] + offsets[best]
