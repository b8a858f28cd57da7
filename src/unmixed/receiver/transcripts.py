"""Transcripts as a receiver keeps them: each participant's finals, and what they are
saying right now (the latest partial, until its final replaces it).

With a folder, each participant's finals are also written as they arrive: JSON
lines (`<recording>-participant-<id>.transcript.jsonl`, one utterance each, with
its words and times) and a readable text beside it (`.transcript.txt`, one line
per utterance: `[00:12.34 - 00:15.10] Alice: ...`).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from unmixed.wire.realtime import TRANSCRIPT_DATA, TranscriptMessage


@dataclass(frozen=True)
class Line:
    """One utterance, on the recording's timeline."""

    text: str
    start: float
    end: float
    final: bool
    arrived_at: float


@dataclass
class ParticipantTranscript:
    recording_id: str
    participant_id: int
    name: str | None
    finals: list[Line] = field(default_factory=list)
    partial: Line | None = None
    """What they are saying now; None once it is final."""
    partials: list[Line] = field(default_factory=list)
    """Every partial that came, in order."""

    @property
    def text(self) -> str:
        """Everything they were heard to say, finals only."""
        return " ".join(line.text for line in self.finals)

    @property
    def last(self) -> Line | None:
        return self.partial or (self.finals[-1] if self.finals else None)


class TranscriptBook:
    def __init__(self, out_dir: Path | None) -> None:
        self._out_dir = out_dir
        self.participants: dict[tuple[str, int], ParticipantTranscript] = {}

    def add(self, message: TranscriptMessage, arrived_at: float) -> Line:
        payload = message.data
        data = payload.data
        key = (payload.recording.id, data.participant.id)
        transcript = self.participants.get(key)
        if transcript is None:
            transcript = self.participants[key] = ParticipantTranscript(*key, data.participant.name)
        transcript.name = data.participant.name
        final = message.event == TRANSCRIPT_DATA
        line = Line(
            text=" ".join(word.text for word in data.words),
            start=float(data.words[0].start_timestamp.relative) if data.words else 0.0,
            end=float(data.words[-1].end_timestamp.relative) if data.words else 0.0,
            final=final,
            arrived_at=arrived_at,
        )
        if final:
            transcript.finals.append(line)
            transcript.partial = None
            self._write(transcript, line, message)
        else:
            transcript.partial = line
            transcript.partials.append(line)
        return line

    def _write(
        self, transcript: ParticipantTranscript, line: Line, message: TranscriptMessage
    ) -> None:
        if self._out_dir is None:
            return
        self._out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{transcript.recording_id[:8]}-participant-{transcript.participant_id}.transcript"
        data = message.data.data
        record = {
            "participant_id": transcript.participant_id,
            "name": transcript.name,
            "start": line.start,
            "end": line.end,
            "text": line.text,
            "words": [word.model_dump(mode="json") for word in data.words],
        }
        with (self._out_dir / f"{stem}.jsonl").open("a", encoding="utf-8") as jsonl:
            jsonl.write(json.dumps(record) + "\n")
        with (self._out_dir / f"{stem}.txt").open("a", encoding="utf-8") as text:
            who = transcript.name or f"participant {transcript.participant_id}"
            text.write(f"[{_clock(line.start)} - {_clock(line.end)}] {who}: {line.text}\n")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{rest:05.2f}"
