"""`audio_mixed_raw.data`: the whole meeting in one stream, one connection per endpoint."""

import base64

import structlog

from unmixed.delivery.connection import Outbound, ReceiverConnection, drain
from unmixed.media import AudioChunk
from unmixed.wire.bots import RealtimeEndpoint
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    AUDIO_MIXED_RAW_DATA,
    AudioEnvelope,
    AudioMixedRawMessage,
    AudioMixedRawPayload,
    MixedAudioData,
    Timestamp,
)

log = structlog.get_logger(__name__)


class AudioMixedDelivery:
    def __init__(
        self,
        endpoints: list[RealtimeEndpoint],
        *,
        bot: ObjectRef,
        recording: ObjectRef,
        audio_mixed: ObjectRef,
        recording_started_at: float,
        outbound: Outbound,
    ) -> None:
        self._recording_started_at = recording_started_at
        self._subscribers = [
            (
                AudioEnvelope(
                    AudioMixedRawMessage(
                        data=AudioMixedRawPayload(
                            data=MixedAudioData(buffer="", timestamp=Timestamp.at(0, 0)),
                            realtime_endpoint=ObjectRef(
                                id=endpoint.id or "", metadata=endpoint.metadata
                            ),
                            audio_mixed=audio_mixed,
                            recording=recording,
                            bot=bot,
                        )
                    )
                ),
                ReceiverConnection(outbound.endpoint(endpoint), label="audio-mixed"),
            )
            for endpoint in endpoints
            if AUDIO_MIXED_RAW_DATA in endpoint.events
        ]

    def send(self, chunk: AudioChunk) -> None:
        buffer = base64.b64encode(chunk.pcm)
        timestamp = Timestamp.at(chunk.captured_at, self._recording_started_at)
        for envelope, connection in self._subscribers:
            connection.send(envelope.encode(buffer, timestamp))

    async def close(self, drain_seconds: float) -> None:
        late = await drain([connection for _, connection in self._subscribers], drain_seconds)
        if late:
            log.warning("receivers did not take all mixed audio before the bot finished")
