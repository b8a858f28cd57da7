"""The bench's participants: each beeps once a second, at its own pitch, onsets staggered.

A beep's onset is easy to find again in what the receiver got, so the moment it
left the participant and the moment its message arrived give the latency. The
floor encodes these very loops, so it decodes the audio the bot decodes.
"""

from dataclasses import dataclass, field

import numpy as np

from unmixed.testbed.audio import FRAME_SAMPLES, FrameSent, LoopingAudioTrack, beeps
from unmixed.testbed.meeting import TrackFactory
from unmixed.testbed.scenario import Scenario, ScenarioParticipant

BEEP_PERIOD = 1.0
BEEP_SECONDS = 0.1


@dataclass
class BeepLog:
    """Wall-clock moments at which a participant's beeps left it."""

    onsets: list[float] = field(default_factory=list)


def bench_scenario(participants: int, seconds: float) -> Scenario:
    """Everyone speaks from the start; participant i mutes for 1 s at 3 + i/N * (seconds - 6)."""
    spread = max(seconds - 6.0, 1.0)
    return Scenario(
        participants=[
            ScenarioParticipant(
                name=f"speaker-{index + 1}",
                tone_hz=400 + 100 * index,
                leave_at=seconds,
                muted=[(3 + spread * index / participants, 4 + spread * index / participants)],
            )
            for index in range(participants)
        ],
        duration=seconds + 1,
    )


def speaker_loop(spec: ScenarioParticipant, participants: int) -> tuple[np.ndarray, int]:
    """The loop a speaker plays at 48 kHz, and by how many samples its beeps are shifted.

    Speaker i beeps i/N of a period after speaker 1, so onsets never coincide."""
    index = int(spec.name.rsplit("-", 1)[1]) - 1
    loop = beeps(spec.tone_hz or 440, BEEP_SECONDS, BEEP_PERIOD)
    shift = round(index / participants * len(loop) / FRAME_SAMPLES) * FRAME_SAMPLES
    return np.roll(loop, shift), shift


def beeping_tracks(participants: int, logs: dict[str, BeepLog]) -> TrackFactory:
    """Tracks playing each speaker's loop, logging into `logs` when each beep leaves."""

    def make(spec: ScenarioParticipant) -> LoopingAudioTrack:
        loop, shift = speaker_loop(spec, participants)
        log = logs[spec.name] = BeepLog()
        return LoopingAudioTrack(loop, _onsets_of_rolled_loop(log, shift, len(loop)))

    return make


def _onsets_of_rolled_loop(log: BeepLog, shift: int, length: int) -> FrameSent:
    def frame_sent(loop_offset: int, wall_time: float) -> None:
        if (loop_offset - shift) % length == 0:
            log.onsets.append(wall_time)

    return frame_sent
