"""`participant_events.*`: who joins, leaves, changes, and speaks, as it happens.

Each realtime endpoint that subscribed to any participant event gets one
connection for all of them, open from the start of the recording to its end,
apart from the per-participant audio connections. An endpoint receives only the
events it subscribed to, in the order they happened.
"""

import structlog

from unmixed.delivery.connection import Outbound, Outgoing, ReceiverConnection, drain
from unmixed.delivery.webhook_endpoint import WebhookEndpointSender
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
        self._subscribers = [
            (
                ObjectRef(id=endpoint.id or "", metadata=endpoint.metadata),
                frozenset(endpoint.events),
                _connection_to(endpoint, outbound),
            )
            for endpoint in endpoints
            if set(PARTICIPANT_EVENTS).intersection(endpoint.events)
        ]

    def send(self, event: ParticipantEventName, participant: Participant, at: float) -> None:
        """Tell every subscriber of `event` that it happened to `participant` at Unix time `at`."""
        bot, recording, participant_events = self._refs
        data = ParticipantEventData(
            participant=participant, timestamp=Timestamp.at(at, self._recording_started_at)
        )
        for endpoint, events, connection in self._subscribers:
            if event not in events:
                continue
            message = ParticipantEventMessage(
                event=event,
                data=ParticipantEventPayload(
                    data=data,
                    realtime_endpoint=endpoint,
                    participant_events=participant_events,
                    recording=recording,
                    bot=bot,
                ),
            )
            connection.send(message.model_dump_json().encode())

    async def close(self, drain_seconds: float) -> None:
        """Let receivers take what is buffered, for at most `drain_seconds`, then let go."""
        late = await drain([connection for _, _, connection in self._subscribers], drain_seconds)
        if late:
            log.warning("receivers did not take every participant event before the bot finished")


def _connection_to(endpoint: RealtimeEndpoint, outbound: Outbound) -> Outgoing:
    """A websocket for a websocket endpoint; signed POSTs for a webhook endpoint."""
    health = outbound.endpoint(endpoint)
    if endpoint.type == "webhook":
        return WebhookEndpointSender(health, outbound.secret, label="participant-events")
    return ReceiverConnection(health, label="participant-events")
