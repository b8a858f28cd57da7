"""The testbed's scenario file: who joins the meeting, says what, mutes and leaves when."""

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, model_validator


class RoomKind(StrEnum):
    """Which Janus plugin hosts the meeting: one stream per person, or one mix for all."""

    VIDEOROOM = "videoroom"
    AUDIOBRIDGE = "audiobridge"


class Client(StrEnum):
    """How a participant is connected: aiortc in this process, or the web page in Chromium."""

    NATIVE = "native"
    BROWSER = "browser"


class ScenarioParticipant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    is_host: bool = False
    client: Client = Client.NATIVE
    audio: Path | None = Field(default=None, description="A WAV file played in a loop.")
    tone_hz: PositiveFloat | None = Field(default=None, description="Or a sine at this frequency.")
    say: str | None = Field(
        default=None,
        min_length=1,
        description="Or a sentence, spoken by espeak-ng in `voice`, said again after each pause.",
    )
    voice: str = Field(default="en-us+f3", description="The espeak-ng voice that says `say`.")
    join_at: NonNegativeFloat = 0
    leave_at: NonNegativeFloat | None = None
    muted: list[tuple[NonNegativeFloat, NonNegativeFloat]] = Field(
        default_factory=list, description="[start, end) intervals, in seconds, while muted."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if [self.audio, self.tone_hz, self.say].count(None) != 2:
            raise ValueError(f"{self.name}: give exactly one of audio, tone_hz or say")
        if self.leave_at is not None and self.leave_at <= self.join_at:
            raise ValueError(f"{self.name}: leave_at must come after join_at")
        for start, end in self.muted:
            if end <= start:
                raise ValueError(f"{self.name}: muted interval [{start}, {end}) is empty")
        return self

    def muted_at(self, moment: float) -> bool:
        return any(start <= moment < end for start, end in self.muted)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participants: list[ScenarioParticipant] = Field(min_length=1)
    duration: PositiveFloat
    room: RoomKind = RoomKind.VIDEOROOM

    @classmethod
    def load(cls, path: Path) -> "Scenario":
        """Read a scenario file; `audio` paths are relative to the file."""
        scenario = cls.model_validate_json(path.read_text())
        for participant in scenario.participants:
            if participant.audio is not None and not participant.audio.is_absolute():
                participant.audio = (path.parent / participant.audio).resolve()
            if participant.audio is not None and not participant.audio.is_file():
                raise ValueError(f"{participant.name}: no WAV file at {participant.audio}")
        return scenario
