"""From what the bot sees of the meeting to `participant_events.*` messages.

Joins, leaves and changes come from the platform. Speech comes from the
platform too where it says who is speaking (Zoom's active speaker), dated when
the bot hears of it; elsewhere from each participant's own audio
(`media.speech`, judged by the runner once for all that need it), dated on its
capture clock. Either way it ends when they mute or leave.
"""

import time
from collections.abc import Callable, Iterable

from unmixed.bots.participants import ParticipantDirectory
from unmixed.delivery.participant_events import ParticipantEventsDelivery
from unmixed.media.speech import SpeechChange
from unmixed.wire.realtime import ParticipantEventName


class ParticipantEventsFeed:
    def __init__(
        self,
        delivery: ParticipantEventsDelivery,
        directory: ParticipantDirectory,
        present: Iterable[str],
        *,
        platform_speech: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`present`: who is in the call already; their joins are told at once.
        `platform_speech`: speech comes from `active_speaker`, not from the audio."""
        self._delivery = delivery
        self._directory = directory
        self._clock = clock
        self._platform_speech = platform_speech
        self._speaking: str | None = None
        """Who the platform last said was speaking."""
        for key in present:
            self.joined(key)

    def joined(self, key: str) -> None:
        self._send("participant_events.join", key, self._clock())

    def updated(self, key: str) -> None:
        self._send("participant_events.update", key, self._clock())

    def left(self, key: str) -> None:
        self.audio_stopped(key)
        self._send("participant_events.leave", key, self._clock())

    def active_speaker(self, key: str | None) -> None:
        """The platform says `key` is speaking now (None: nobody is)."""
        if not self._platform_speech or key == self._speaking:
            return
        now = self._clock()
        if self._speaking is not None:
            self._send("participant_events.speech_off", self._speaking, now)
        self._speaking = key
        if key is not None:
            self._send("participant_events.speech_on", key, now)

    def speech(self, key: str, changes: list[SpeechChange]) -> None:
        """`key` started or stopped speaking, as their audio says (ignored where the
        platform says it)."""
        if not self._platform_speech:
            self._tell(key, changes)

    def audio_stopped(self, key: str) -> None:
        """Their audio stopped: the platform's speaker is no longer speaking either."""
        if key == self._speaking:
            self.active_speaker(None)

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
