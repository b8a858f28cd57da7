"""The bot process: attend one meeting from joining to done.

Run as `python -m unmixed.bots.runner BOT_ID` by the dispatcher, one process per
bot, so a crash here costs one bot and never the API. Every status change goes
to the store the moment it happens.
"""

import asyncio
import functools
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import structlog

from unmixed.bots.automatic_leave import PresenceRules
from unmixed.bots.dispatcher import ALREADY_CLAIMED_EXIT_CODE, BOT_ERRORED_MESSAGE
from unmixed.bots.participants import ParticipantDirectory
from unmixed.bots.platforms import adapter_for
from unmixed.delivery.audio_separate import AudioSeparateDelivery, StreamContext
from unmixed.egress import EgressPolicy
from unmixed.logs import configure_logging, register_secret
from unmixed.media import AudioSegment, PcmFrame, TimelineBreak
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


def _one_participant(method: Callable[..., None]) -> Callable[..., None]:
    """Confine a failure in one participant's audio to that participant's stream."""

    @functools.wraps(method)
    def guarded(self: "BotRun", key: str, *args: Any) -> None:
        try:
            method(self, key, *args)
        except Exception as error:
            self._abandon_stream(key, error)

    return guarded


class BotRun:
    """One bot's attendance: wires the platform adapter to media and delivery.

    Meeting events arrive through `_on_event`, synchronously; audio is handled
    right there. `run` itself only waits for a reason to leave: the meeting
    ending, a leave request, or an `automatic_leave` deadline.
    """

    def __init__(
        self, bot: BotRecord, bots: Bots, adapter: MeetingAdapter, egress: EgressPolicy
    ) -> None:
        self._bot = bot
        self._bots = bots
        self._adapter = adapter
        self._egress = egress
        self._directory = ParticipantDirectory()
        self._flowing: set[str] = set()
        self._segments: dict[str, AudioSegment] = {}
        self._recording: RecordingRef | None = None
        self._recording_requested = False
        self._delivery: AudioSeparateDelivery | None = None
        self._presence = PresenceRules(bot.automatic_leave)
        self._outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting: asyncio.Timeout | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._failures: list[BaseException] = []
        self._store_writes = asyncio.Lock()
        self._broken_streams: set[str] = set()

    def request_leave(self) -> None:
        """Leave the call now (SIGTERM, or `leave_call`)."""
        self._conclude(SubCode.BOT_RECEIVED_LEAVE_CALL)

    async def run(self) -> None:
        """From `joining_call` (the bot was claimed already) to `done` or `fatal`."""
        if self._outcome.done():
            await self._status(StatusCode.CALL_ENDED, self._outcome.result())
            await self._status(StatusCode.DONE)
            return
        try:
            await self._adapter.join(self._bot.bot_name, self._on_event)
        except JoinError as error:
            await self._status(StatusCode.FATAL, error.sub_code, str(error))
            return
        await self._status(StatusCode.IN_CALL_NOT_RECORDING)
        self._presence.start()
        try:
            reason = await self._attend()
        finally:
            await self._adapter.leave()
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._failures:
            raise self._failures[0]
        await self._status(StatusCode.CALL_ENDED, reason)
        if self._delivery is not None:
            await self._delivery.close(DRAIN_SECONDS)
        await self._status(StatusCode.DONE)

    async def _attend(self) -> str:
        """Wait for a reason to leave the call, and return it as a sub_code."""
        loop = asyncio.get_running_loop()
        while not self._outcome.done():
            deadline = self._presence.deadline()
            try:
                async with asyncio.timeout_at(deadline.at) as self._waiting:
                    await asyncio.shield(self._outcome)
            except TimeoutError:
                if deadline.at is not None and loop.time() >= deadline.at:
                    return deadline.sub_code
            finally:
                self._waiting = None
        return self._outcome.result()

    def _conclude(self, reason: str) -> None:
        if not self._outcome.done():
            self._outcome.set_result(reason)

    def _presence_changed(self) -> None:
        """Make `_attend` look at its deadline again."""
        if self._waiting is not None:
            self._waiting.reschedule(asyncio.get_running_loop().time())

    def _on_event(self, event: MeetingEvent) -> None:
        """The adapter's sink: a failure costs one participant's stream, or ends the bot
        when it concerns the meeting itself, but never propagates into the platform."""
        try:
            self._handle(event)
        except Exception as error:
            log.exception("failed to handle a meeting event", event=type(event).__name__)
            self._fail(error)

    def _abandon_stream(self, key: str, error: Exception) -> None:
        """Stop one participant's stream after an error in it; the others go on."""
        if key not in self._broken_streams:
            self._broken_streams.add(key)
            log.error(
                "participant's audio failed; their stream stops", platform_id=key, exc_info=error
            )
        self._flowing.discard(key)
        self._segments.pop(key, None)
        participant = self._directory.get(key)
        if participant is not None and self._delivery is not None:
            self._delivery.stop(participant.id)

    def _fail(self, error: BaseException) -> None:
        if not self._outcome.done():
            self._outcome.set_exception(error)

    def _handle(self, event: MeetingEvent) -> None:
        match event:
            case AudioReceived(key, frame):
                self._forward(key, frame)
            case AudioStarted(key):
                self._broken_streams.discard(key)
                self._flowing.add(key)
                self._start_audio(key)
            case AudioStopped(key):
                self._flowing.discard(key)
                self._stop_audio(key)
            case ParticipantJoined(participant):
                entry = self._directory.add(participant)
                self._presence.joined(participant.key)
                self._presence_changed()
                log.info("participant joined", participant=entry.id, name=entry.name)
            case ParticipantLeft(key):
                self._flowing.discard(key)
                self._stop_audio(key)
                self._presence.left(key)
                self._presence_changed()
                log.info("participant left", platform_id=key)
            case RecordingPermission(granted=True) if not self._recording_requested:
                self._recording_requested = True
                self._in_background(self._start_recording())
            case RecordingPermission(granted=False):
                self._in_background(self._status(StatusCode.RECORDING_PERMISSION_DENIED))
            case MeetingEnded(sub_code):
                self._conclude(sub_code)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run store work off the event path; if it fails, the bot ends now, not at the end."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("background work failed", exc_info=error)
            self._failures.append(error)
            self._fail(error)

    async def _start_recording(self) -> None:
        """Enter `in_call_recording`; streams of participants already speaking start now."""
        async with self._store_writes:
            self._recording = await asyncio.to_thread(self._bots.start_recording, self._bot.id)
        artifact = self._bot.recording_config.audio_separate_raw
        if self._recording is None or artifact is None or artifact.id is None:
            return
        context = StreamContext(
            bot=ObjectRef(id=self._bot.id, metadata=self._bot.metadata),
            recording=ObjectRef(id=self._recording.id, metadata={}),
            audio_separate=ObjectRef(id=artifact.id, metadata=artifact.metadata),
            recording_started=self._recording.started_at,
        )
        self._delivery = AudioSeparateDelivery(
            self._bot.recording_config.realtime_endpoints, context, self._egress
        )
        for key in self._flowing:
            self._start_audio(key)

    @_one_participant
    def _forward(self, key: str, frame: PcmFrame) -> None:  # fifty times a second per speaker
        segment = self._segments.get(key)
        participant = self._directory.get(key)
        if segment is None or participant is None or self._delivery is None:
            return
        try:
            chunks = segment.push(frame)
        except TimelineBreak as jump:
            log.warning(
                "participant's stream jumped; reconnecting it", platform_id=key, why=str(jump)
            )
            self._stop_audio(key)
            self._start_audio(key)
            chunks = self._segments[key].push(frame)
        for chunk in chunks:
            self._delivery.send(participant.id, chunk)

    @_one_participant
    def _start_audio(self, key: str) -> None:
        participant = self._directory.get(key)
        if participant is None or self._delivery is None:
            return
        self._segments[key] = AudioSegment()
        self._delivery.start(participant)
        log.info("audio started", participant=participant.id)

    @_one_participant
    def _stop_audio(self, key: str) -> None:
        segment = self._segments.pop(key, None)
        participant = self._directory.get(key)
        if segment is None or participant is None or self._delivery is None:
            return
        for chunk in segment.flush():
            self._delivery.send(participant.id, chunk)
        self._delivery.stop(participant.id)
        log.info("audio stopped", participant=participant.id)

    async def _status(
        self, code: str, sub_code: str | None = None, message: str | None = None
    ) -> None:
        """Record a status change; writes are serialised so their order is the bot's."""
        log.info("status", code=code, sub_code=sub_code)
        async with self._store_writes:
            await asyncio.to_thread(self._bots.change_status, self._bot.id, code, sub_code, message)


async def run_bot(bot_id: str, settings: Settings) -> int:
    """Attend the meeting; the process's exit code."""
    database_url = settings.resolved_database_url()
    register_secret(urlsplit(database_url).password)
    bots = Bots(open_database(database_url))
    bot = bots.record(bot_id)
    register_secret(bot.meeting.meeting_password)
    structlog.contextvars.bind_contextvars(bot=bot_id)
    if not bots.claim(bot_id):
        log.warning("another process already started this bot", status=bot.status)
        return ALREADY_CLAIMED_EXIT_CODE
    try:
        adapter = adapter_for(bot, settings)
    except JoinError as error:
        bots.change_status(bot_id, StatusCode.FATAL, error.sub_code, str(error))
        return 0
    run = BotRun(bot, bots, adapter, EgressPolicy(allow_private=settings.egress_allow_private))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, run.request_leave)
    try:
        await run.run()
    except Exception:
        log.exception("bot crashed")
        bots.change_status(bot_id, StatusCode.FATAL, SubCode.BOT_ERRORED, BOT_ERRORED_MESSAGE)
        return 1
    return 0


def main() -> None:
    configure_logging(process="bot")
    sys.exit(asyncio.run(run_bot(sys.argv[1], Settings())))


if __name__ == "__main__":
    main()
