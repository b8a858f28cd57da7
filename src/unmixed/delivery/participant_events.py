"""`participant_events.*`: who joins, leaves, changes, and speaks, as it happens."""

import structlog

from unmixed.delivery.connection import Outbound
from unmixed.delivery.event_stream import EventStream
from unmixed.wire.bots import RealtimeEndpoint
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    PARTICIPANT_EVENTS,
    Participant,
    ParticipantEventData,
    ParticipantEventMessage,
    ParticipantEventName,
    ParticipantEventPayload,
    Timestamp,
)

log = structlog.get_logger(__name__)


class ParticipantEventsDelivery:
    def __init__(
        self,
        endpoints: list[RealtimeEndpoint],
        *,
        bot: ObjectRef,
        recording: ObjectRef,
        participant_events: ObjectRef,
        recording_started_at: float,
        outbound: Outbound,
    ) -> None:
        self._refs = (bot, recording, participant_events)
        self._recording_started_at = recording_started_at
        self._stream = EventStream(
            endpoints, PARTICIPANT_EVENTS, outbound, label="participant-events"
        )

    def send(self, event: ParticipantEventName, participant: Participant, at: float) -> None:
        """Tell every subscriber of `event` that it happened to `participant` at Unix time `at`."""
        bot, recording, participant_events = self._refs
        data = ParticipantEventData(
            participant=participant, timestamp=Timestamp.at(at, self._recording_started_at)
        )
        self._stream.send(
            event,
            lambda endpoint: ParticipantEventMessage(
                event=event,
                data=ParticipantEventPayload(
                    data=data,
                    realtime_endpoint=endpoint,
                    participant_events=participant_events,
                    recording=recording,
                    bot=bot,
                ),
            ),
        )

    async def close(self, drain_seconds: float) -> None:
        """Let receivers take what is buffered, for at most `drain_seconds`, then let go."""
        if await self._stream.close(drain_seconds):
            log.warning("receivers did not take every participant event before the bot finished")
