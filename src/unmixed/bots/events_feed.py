"""From what the bot sees of the meeting to `participant_events.*` messages.

Joins, leaves and changes come from the platform; speech starts and stops from
each participant's own audio (`media.speech`), dated on its capture clock, and
end with their audio when they mute or leave.
"""

import time
from collections.abc import Callable, Iterable

from unmixed.bots.participants import ParticipantDirectory
from unmixed.delivery.participant_events import ParticipantEventsDelivery
from unmixed.media import AudioChunk
from unmixed.media.speech import SpeechChange, SpeechDetector
from unmixed.wire.realtime import ParticipantEventName


class ParticipantEventsFeed:
    def __init__(
        self,
        delivery: ParticipantEventsDelivery,
        directory: ParticipantDirectory,
        present: Iterable[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`present`: who is in the call already; their joins are told at once."""
        self._delivery = delivery
        self._directory = directory
        self._clock = clock
        self._speech: dict[str, SpeechDetector] = {}
        for key in present:
            self.joined(key)

    def joined(self, key: str) -> None:
        self._send("participant_events.join", key, self._clock())

    def updated(self, key: str) -> None:
        self._send("participant_events.update", key, self._clock())

    def left(self, key: str) -> None:
        self.audio_stopped(key)
        self._send("participant_events.leave", key, self._clock())

    def audio(self, key: str, chunks: Iterable[AudioChunk]) -> None:
        detector = self._speech.setdefault(key, SpeechDetector())
        for chunk in chunks:
            self._tell(key, detector.push(chunk))

    def audio_stopped(self, key: str) -> None:
        detector = self._speech.pop(key, None)
        if detector is not None:
            self._tell(key, detector.end())

    async def close(self, drain_seconds: float) -> None:
        await self._delivery.close(drain_seconds)

    def _tell(self, key: str, changes: list[SpeechChange]) -> None:
        for change in changes:
            event: ParticipantEventName = (
                "participant_events.speech_on"
                if change.speaking
                else "participant_events.speech_off"
            )
            self._send(event, key, change.at)

    def _send(self, event: ParticipantEventName, key: str, at: float) -> None:
        participant = self._directory.get(key)
        if participant is not None:
            self._delivery.send(event, participant, at)
