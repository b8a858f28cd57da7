"""How long sound took to reach the receiver: beep onsets, and unmutes.

A beep's onset is found in the received timeline (loud after 0.3 s of quiet);
its latency runs from the moment the beep's first frame left the participant to
the moment the message holding that sample arrived.
"""

import numpy as np

from unmixed.bench.speakers import BEEP_PERIOD
from unmixed.receiver import ParticipantAudio
from unmixed.wire.realtime import SAMPLE_RATE

ONSET_LEVEL = 1500
"""Sample magnitude that marks a beep's onset (beeps peak near 9800, silence is ~0)."""

QUIET_BEFORE = 0.3
"""Seconds of quiet before a loud sample that make it an onset."""


def onset_samples(audio: ParticipantAudio) -> list[int]:
    """Where, on the recording's timeline, each beep heard in `audio` begins."""
    loud = np.abs(audio.timeline().astype(np.int32)) > ONSET_LEVEL
    quiet = int(QUIET_BEFORE * SAMPLE_RATE)
    loud_before = np.concatenate([[0], np.cumsum(loud)])  # [i]: loud samples before sample i
    candidates = np.flatnonzero(loud)
    candidates = candidates[candidates >= quiet]
    onsets = candidates[loud_before[candidates] == loud_before[candidates - quiet]]
    return [int(index) for index in onsets]


def onset_latencies(audio: ParticipantAudio, sent: list[float]) -> list[float]:
    """Seconds from each beep leaving the participant to its onset reaching the receiver."""
    latencies = []
    for index in onset_samples(audio):
        arrival = _arrival_holding(audio, index)
        earlier = [moment for moment in sent if moment <= arrival]
        if earlier and arrival - earlier[-1] < BEEP_PERIOD / 2:
            latencies.append(arrival - earlier[-1])
    return latencies


def _arrival_holding(audio: ParticipantAudio, sample: int) -> float:
    for connection in audio.connections:
        for arrival in connection.arrivals:
            start = round(arrival.relative * SAMPLE_RATE)
            if start <= sample < start + arrival.samples:
                return arrival.arrived_at
    raise LookupError(f"no message holds sample {sample}")


def first_message_delays(audio: ParticipantAudio, moments: list[float]) -> list[float]:
    """For each moment (an unmute, a publish), seconds until a connection opened after
    it delivered its first message."""
    delays = []
    for moment in moments:
        firsts = [
            c.first_arrival
            for c in audio.connections
            if c.first_arrival and c.first_arrival >= moment
        ]
        if firsts:
            delays.append(min(firsts) - moment)
    return delays


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100)) if values else float("nan")
