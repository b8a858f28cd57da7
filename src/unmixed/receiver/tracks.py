"""What arrived for each participant, placed on the recording's timeline."""

import base64
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from unmixed.receiver.timeline import Timeline
from unmixed.wire.realtime import SAMPLE_RATE, AudioSeparateRawMessage


@dataclass(frozen=True)
class Arrival:
    """One message as the receiver saw it."""

    arrived_at: float
    relative: float
    captured_at: float
    """The message's `absolute` timestamp, as Unix time."""
    samples: int


@dataclass
class ConnectionRecord:
    """One websocket connection from the bot: one participant from unmute to mute."""

    path: str
    opened_at: float
    closed_at: float | None = None
    participant_id: int | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    first_message: dict[str, Any] | None = None
    """The first message exactly as received (JSON-decoded), buffer included."""
    close_code: int | None = None
    """The close code the bot sent (1000: a clean close; 1006: it vanished), once closed."""

    def span(self) -> tuple[float, float]:
        """Relative times of the first and the last sample it carried ((0, 0) if none)."""
        if not self.arrivals:
            return 0.0, 0.0
        last = self.arrivals[-1]
        return self.arrivals[0].relative, last.relative + last.samples / SAMPLE_RATE

    @property
    def first_arrival(self) -> float | None:
        return self.arrivals[0].arrived_at if self.arrivals else None


class ParticipantAudio:
    """One participant of one recording: identity, connections and the audio itself.

    Audio is kept on the recording's timeline (sample index = relative * 16000),
    the way Recall's sample receiver pads gaps, so muted time is silence and
    every participant's audio lines up with every other's.
    """

    def __init__(
        self, recording_id: str, message: AudioSeparateRawMessage, timeline: Timeline
    ) -> None:
        participant = message.data.data.participant
        self.recording_id = recording_id
        self.bot_id = message.data.bot.id
        self.id = participant.id
        self.name = participant.name
        self.is_host = participant.is_host
        self.extra_data = participant.extra_data
        self.connections: list[ConnectionRecord] = []
        self.messages = 0
        self.samples = 0
        self.last_level_dbfs = -math.inf
        self.audio = timeline

    def add(self, message: AudioSeparateRawMessage, connection: ConnectionRecord) -> Arrival:
        data = message.data.data
        pcm = np.frombuffer(base64.b64decode(data.buffer), dtype="<i2")
        start = round(data.timestamp.relative * SAMPLE_RATE)
        self.audio.write(max(0, start), pcm[max(0, -start) :])  # nothing lands before 0
        self.messages += 1
        self.samples += len(pcm)
        self.last_level_dbfs = _level_dbfs(pcm)
        captured_at = datetime.fromisoformat(data.timestamp.absolute).timestamp()
        arrival = Arrival(time.time(), data.timestamp.relative, captured_at, len(pcm))
        connection.arrivals.append(arrival)
        return arrival

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def connected(self) -> bool:
        return any(connection.closed_at is None for connection in self.connections)

    def timeline(self) -> np.ndarray:
        """All the audio from relative 0, silence where nothing arrived."""
        return self.audio.read(0, self.audio.length)

    def between(self, start: float, end: float) -> np.ndarray:
        """The audio between two relative times, in seconds."""
        return self.audio.read(round(start * SAMPLE_RATE), round(end * SAMPLE_RATE))


def _level_dbfs(pcm: np.ndarray) -> float:
    if len(pcm) == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf
