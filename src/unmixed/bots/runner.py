"""The bot process: attend one meeting from joining to done.

Run as `python -m unmixed.bots.runner BOT_ID` by the dispatcher, one process per
bot, so a crash here costs one bot and never the API. Every status change goes
to the store the moment it happens.
"""

import asyncio
import signal
import sys

import structlog

from unmixed.bots.automatic_leave import PresenceRules
from unmixed.bots.participants import ParticipantDirectory
from unmixed.bots.platforms import adapter_for
from unmixed.delivery.audio_separate import AudioSeparateDelivery, StreamContext
from unmixed.logs import configure_logging
from unmixed.media import AudioSegment
from unmixed.platforms.base import (
    AudioReceived,
    AudioStarted,
    AudioStopped,
    JoinError,
    MeetingAdapter,
    MeetingEnded,
    MeetingEvent,
    ParticipantJoined,
    ParticipantLeft,
    RecordingPermission,
)
from unmixed.settings import Settings
from unmixed.store import BotRecord, Bots, open_database
from unmixed.store.repository import RecordingRef
from unmixed.wire.common import ObjectRef
from unmixed.wire.status import StatusCode, SubCode

DRAIN_SECONDS = 10.0
"""How long receivers get, after the bot left, to take the audio still buffered."""

log = structlog.get_logger(__name__)


class BotRun:
    """One bot's attendance: wires the platform adapter to media and delivery."""

    def __init__(self, bot: BotRecord, bots: Bots, adapter: MeetingAdapter) -> None:
        self._bot = bot
        self._bots = bots
        self._adapter = adapter
        self._directory = ParticipantDirectory()
        self._segments: dict[str, AudioSegment] = {}
        self._recording: RecordingRef | None = None
        self._delivery: AudioSeparateDelivery | None = None
        self._presence = PresenceRules(bot.automatic_leave)
        self._leave_requested = False
        self._waiting: asyncio.Timeout | None = None

    def request_leave(self) -> None:
        """Leave the call soon (SIGTERM, or `leave_call`): wakes `_attend` at once."""
        self._leave_requested = True
        if self._waiting is not None:
            self._waiting.reschedule(asyncio.get_running_loop().time())

    async def run(self) -> None:
        await self._status(StatusCode.JOINING_CALL)
        try:
            await self._adapter.join(self._bot.bot_name)
        except JoinError as error:
            await self._status(StatusCode.FATAL, error.sub_code, str(error))
            return
        await self._status(StatusCode.IN_CALL_NOT_RECORDING)
        self._presence = PresenceRules(self._bot.automatic_leave)
        try:
            reason = await self._attend()
        finally:
            await self._adapter.leave()
        await self._status(StatusCode.CALL_ENDED, reason)
        if self._delivery is not None:
            await self._delivery.close(DRAIN_SECONDS)
        await self._status(StatusCode.DONE)

    async def _attend(self) -> str:
        """Handle meeting events until the bot has a reason to be out; return that reason.

        One `asyncio.timeout_at` per wait, rather than a task per event, keeps
        the cost of each of the hundreds of events a second low.
        """
        while not self._leave_requested:
            deadline = self._presence.deadline()
            try:
                async with asyncio.timeout_at(deadline.at) as self._waiting:
                    event = await self._adapter.next_event()
            except TimeoutError:
                if self._leave_requested:
                    break
                return deadline.sub_code
            finally:
                self._waiting = None
            if isinstance(event, MeetingEnded):
                return event.sub_code
            await self._handle(event)
        return SubCode.BOT_RECEIVED_LEAVE_CALL

    async def _handle(self, event: MeetingEvent) -> None:
        match event:
            case AudioReceived(key, frame):
                segment = self._segments.get(key)
                participant = self._directory.get(key)
                if segment is not None and participant is not None and self._delivery is not None:
                    chunk = segment.push(frame)
                    if chunk is not None:
                        self._delivery.send(participant.id, chunk)
            case AudioStarted(key):
                self._start_audio(key)
            case AudioStopped(key):
                self._stop_audio(key)
            case ParticipantJoined(participant):
                entry = self._directory.add(participant)
                self._presence.joined(participant.key)
                log.info("participant joined", participant=entry.id, name=entry.name)
            case ParticipantLeft(key):
                self._stop_audio(key)
                self._presence.left(key)
                log.info("participant left", platform_id=key)
            case RecordingPermission(granted=True) if self._recording is None:
                await self._start_recording()
            case RecordingPermission(granted=False):
                await self._status(StatusCode.RECORDING_PERMISSION_DENIED)

    async def _start_recording(self) -> None:
        self._recording = await asyncio.to_thread(self._bots.start_recording, self._bot.id)
        artifact = self._bot.recording_config.audio_separate_raw
        if artifact is None:
            return
        context = StreamContext(
            bot=ObjectRef(id=self._bot.id, metadata=self._bot.metadata),
            recording=ObjectRef(id=self._recording.id, metadata={}),
            audio_separate=ObjectRef(id=artifact.id or "", metadata=artifact.metadata),
            recording_started=self._recording.started_at,
        )
        self._delivery = AudioSeparateDelivery(
            self._bot.recording_config.realtime_endpoints, context
        )

    def _start_audio(self, key: str) -> None:
        participant = self._directory.get(key)
        if participant is None or self._delivery is None:
            return
        self._segments[key] = AudioSegment()
        self._delivery.start(participant)
        log.info("audio started", participant=participant.id)

    def _stop_audio(self, key: str) -> None:
        segment = self._segments.pop(key, None)
        participant = self._directory.get(key)
        if segment is None or participant is None or self._delivery is None:
            return
        tail = segment.flush()
        if tail is not None:
            self._delivery.send(participant.id, tail)
        self._delivery.stop(participant.id)
        log.info("audio stopped", participant=participant.id)

    async def _status(
        self, code: str, sub_code: str | None = None, message: str | None = None
    ) -> None:
        log.info("status", code=code, sub_code=sub_code)
        await asyncio.to_thread(self._bots.change_status, self._bot.id, code, sub_code, message)


async def run_bot(bot_id: str, settings: Settings) -> None:
    bots = Bots(open_database(settings.resolved_database_url()))
    bot = bots.record(bot_id)
    structlog.contextvars.bind_contextvars(bot=bot_id)
    try:
        adapter = adapter_for(bot)
    except JoinError as error:
        bots.change_status(bot_id, StatusCode.FATAL, error.sub_code, str(error))
        return
    run = BotRun(bot, bots, adapter)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, run.request_leave)
    try:
        await run.run()
    except Exception as error:
        log.exception("bot crashed")
        bots.change_status(bot_id, StatusCode.FATAL, SubCode.BOT_ERRORED, repr(error))
        raise


def main() -> None:
    configure_logging(process="bot")
    asyncio.run(run_bot(sys.argv[1], Settings()))


if __name__ == "__main__":
    main()
