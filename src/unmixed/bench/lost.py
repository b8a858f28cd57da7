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
overflowed) becomes silence of the right length in the bot's stream, so it
arrives as samples; only its sound could tell.
"""

from dataclasses import dataclass

import numpy as np

from unmixed.bench.latency import onset_samples
from unmixed.bench.speakers import BEEP_PERIOD
from unmixed.receiver import ParticipantAudio
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


def connection_ranges(audio: ParticipantAudio) -> list[list[SampleRange]]:
    """The samples each message carried, on the recording's timeline, connection by connection."""
    return [
        [
            (
                round(arrival.relative * SAMPLE_RATE),
                round(arrival.relative * SAMPLE_RATE) + arrival.samples,
            )
            for arrival in connection.arrivals
        ]
        for connection in audio.connections
    ]


def recording_origin(audio: ParticipantAudio) -> float | None:
    """The Unix time of relative 0 on the bot's timeline, from any message's two timestamps."""
    for connection in audio.connections:
        for arrival in connection.arrivals:
            return arrival.captured_at - arrival.relative
    return None


def capture_offset(audio: ParticipantAudio, sent: list[float], origin: float) -> float | None:
    """How much later than the moment a sample left the participant the bot dates it.

    The bot dates a stream's samples from the moment it handled the first of
    them; beep onsets, whose departure was logged, tell how late that was, so
    the log's moments land on the stream's own timeline. None: no onset heard."""
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
    offset: float,
    until: float,
) -> StreamLoss:
    """`audio`: what one bot delivered of participant `name` (None: nothing);
    `origin`: the Unix time of the bot's relative 0; `offset`: its `capture_offset`."""
    spells = [
        (start - origin + offset, end - origin + offset)
        for start, end in relayed_spells(log, until)
    ]
    connections = connection_ranges(audio) if audio is not None else []
    return StreamLoss(bot_id, name, tally(spells, connections))
