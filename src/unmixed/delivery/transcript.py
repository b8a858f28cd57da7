"""`transcript.data` and `transcript.partial_data`: what each participant says, as text."""

import structlog

from unmixed.delivery.connection import Outbound
from unmixed.delivery.event_stream import EventStream
from unmixed.wire.bots import RealtimeEndpoint
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    TRANSCRIPT_DATA,
    TRANSCRIPT_EVENTS,
    TRANSCRIPT_PARTIAL_DATA,
    TranscriptData,
    TranscriptEventName,
    TranscriptMessage,
    TranscriptPayload,
)

log = structlog.get_logger(__name__)


class TranscriptDelivery:
    def __init__(
        self,
        endpoints: list[RealtimeEndpoint],
        *,
        bot: ObjectRef,
        recording: ObjectRef,
        transcript: ObjectRef,
        outbound: Outbound,
    ) -> None:
        self._refs = (bot, recording, transcript)
        self._stream = EventStream(endpoints, TRANSCRIPT_EVENTS, outbound, label="transcript")

    @property
    def wants_partials(self) -> bool:
        return self._stream.wants(TRANSCRIPT_PARTIAL_DATA)

    def send(self, data: TranscriptData, *, final: bool) -> None:
        bot, recording, transcript = self._refs
        event: TranscriptEventName = TRANSCRIPT_DATA if final else TRANSCRIPT_PARTIAL_DATA
        self._stream.send(
            event,
            lambda endpoint: TranscriptMessage(
                event=event,
                data=TranscriptPayload(
                    data=data,
                    realtime_endpoint=endpoint,
                    transcript=transcript,
                    recording=recording,
                    bot=bot,
                ),
            ),
        )

    async def close(self, drain_seconds: float) -> None:
        if await self._stream.close(drain_seconds):
            log.warning("receivers did not take every transcript before the bot finished")
