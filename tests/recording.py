"""What an adapter reports, events and audio alike, recorded in the order reported."""

from dataclasses import dataclass

from unmixed.media import PcmFrame
from unmixed.platforms.base import AudioInput, MeetingEvent


@dataclass(frozen=True)
class Heard:
    """A frame of one participant's audio, recorded beside the events."""

    key: str
    frame: PcmFrame


class MeetingRecord:
    """Pass `on_event` and `audio_inputs` to `MeetingAdapter.join`; read `reports`."""

    def __init__(self) -> None:
        self.reports: list[MeetingEvent | Heard] = []

    def on_event(self, event: MeetingEvent) -> None:
        self.reports.append(event)

    def audio_inputs(self, key: str) -> AudioInput:
        return _Input(self, key)

    def heard(self, key: str | None = None) -> list[Heard]:
        return [r for r in self.reports if isinstance(r, Heard) and key in (None, r.key)]


class _Input:
    def __init__(self, record: MeetingRecord, key: str) -> None:
        self._record = record
        self._key = key

    def push(self, frame: PcmFrame) -> None:
        self._record.reports.append(Heard(self._key, frame))
