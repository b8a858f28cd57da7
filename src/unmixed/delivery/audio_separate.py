"""`audio_separate_raw.data`: each participant's audio on connections of its own.

For every realtime endpoint that asked for the event, a participant gets a
connection when their audio starts and loses it when it stops; a muted
participant never has one. Connections are independent, so one stalled
receiver (or one participant's backlog) holds up nobody else.
"""

import base64
from dataclasses import dataclass
from datetime import datetime

import structlog

from unmixed.delivery.connection import Outbound, ReceiverConnection, drain
from unmixed.media import AudioChunk
from unmixed.wire.bots import RealtimeEndpoint
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    AUDIO_SEPARATE_RAW_DATA,
    AudioData,
    AudioEnvelope,
    AudioSeparateRawMessage,
    AudioSeparateRawPayload,
    Participant,
    Timestamp,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StreamContext:
    """The ids every message of one recording carries."""

    bot: ObjectRef
    recording: ObjectRef
    audio_separate: ObjectRef
    recording_started: datetime


class AudioSeparateDelivery:
    def __init__(
        self, endpoints: list[RealtimeEndpoint], context: StreamContext, outbound: Outbound
    ) -> None:
        self._context = context
        self._recording_started_at = context.recording_started.timestamp()
        self._endpoints = [
            (
                ObjectRef(id=_assigned(endpoint.id), metadata=endpoint.metadata),
                outbound.endpoint(endpoint),
            )
            for endpoint in endpoints
            if AUDIO_SEPARATE_RAW_DATA in endpoint.events
        ]
        self._open: dict[int, list[tuple[AudioEnvelope, ReceiverConnection]]] = {}
        self._closing: set[ReceiverConnection] = set()

    def start(self, participant: Participant) -> None:
        """Open the participant's connections (their audio started)."""
        if participant.id in self._open:
            return
        self._open[participant.id] = [
            (
                self._envelope(participant, endpoint),
                ReceiverConnection(health, label=f"participant-{participant.id}"),
            )
            for endpoint, health in self._endpoints
        ]

    def _envelope(self, participant: Participant, endpoint: ObjectRef) -> AudioEnvelope:
        return AudioEnvelope(
            AudioSeparateRawMessage(
                data=AudioSeparateRawPayload(
                    data=AudioData(
                        buffer="", timestamp=Timestamp.at(0, 0), participant=participant
                    ),
                    realtime_endpoint=endpoint,
                    audio_separate=self._context.audio_separate,
                    recording=self._context.recording,
                    bot=self._context.bot,
                )
            )
        )

    def send(self, participant_id: int, chunk: AudioChunk) -> None:
        streams = self._open.get(participant_id)
        if not streams:
            return
        buffer = base64.b64encode(chunk.pcm)
        timestamp = Timestamp.at(chunk.captured_at, self._recording_started_at)
        for envelope, connection in streams:
            connection.send(envelope.encode(buffer, timestamp))

    def stop(self, participant_id: int) -> None:
        """Close the participant's connections once what is buffered has been sent."""
        streams = self._open.pop(participant_id, [])
        self._closing = {connection for connection in self._closing if not connection.done}
        for _, connection in streams:
            connection.finish()
            self._closing.add(connection)

    async def close(self, drain_seconds: float) -> None:
        """Stop every stream, give receivers `drain_seconds` to take the rest, then let go."""
        for participant_id in list(self._open):
            self.stop(participant_id)
        late = await drain(self._closing, drain_seconds)
        if late:
            log.warning(
                "receivers did not take all audio before the bot finished", connections=late
            )


def _assigned(endpoint_id: str | None) -> str:
    """The store gives every endpoint an id at creation; a message without one is a bug."""
    if not endpoint_id:
        raise ValueError("a realtime endpoint without an id cannot be streamed to")
    return endpoint_id
