"""The bot process: attend one meeting from joining to done.

Run as `python -m unmixed.bots.runner BOT_ID` by a launcher (`unmixed.bots.launchers`),
one process per bot, wherever it runs, so a crash here costs one bot and never the
API. Every status change goes to the store the moment it happens.
"""

import asyncio
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from unmixed.bots.automatic_leave import PresenceRules
from unmixed.bots.events_feed import ParticipantEventsFeed
from unmixed.bots.exits import ALREADY_CLAIMED_EXIT_CODE, BOT_ERRORED_MESSAGE
from unmixed.bots.lease import LEASE, BotLease, process_holder
from unmixed.bots.mixed_feed import MixedAudioFeed
from unmixed.bots.participants import ParticipantDirectory
from unmixed.bots.platforms import adapter_for
from unmixed.bots.store_writer import StoreWriter
from unmixed.bots.transcript_feed import TranscriptFeed
from unmixed.delivery.audio_mixed import AudioMixedDelivery
from unmixed.delivery.audio_separate import AudioSeparateDelivery, StreamContext
from unmixed.delivery.connection import Outbound
from unmixed.delivery.participant_events import ParticipantEventsDelivery
from unmixed.delivery.transcript import TranscriptDelivery
from unmixed.egress import EgressPolicy
from unmixed.logs import configure_logging, flush_logs, register_secret
from unmixed.media import AudioChunk, AudioSegment, PcmFrame, TimelineBreak
from unmixed.media.speech import SpeechDetector
from unmixed.platforms.base import (
    ActiveSpeaker,
    AudioStarted,
    AudioStopped,
    JoinError,
    MeetingAdapter,
    MeetingEnded,
    MeetingEvent,
    MixedAudioReceived,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    RecordingPermission,
    WaitingRoom,
)
from unmixed.settings import Settings
from unmixed.store import BotRecord, Bots, open_database
from unmixed.store.leases import Leases
from unmixed.store.repository import RecordingRef
from unmixed.store.webhooks import WebhookEndpoints
from unmixed.transcription.engine import Transcriber
from unmixed.transcription.models import local_model
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    AUDIO_MIXED_RAW_DATA,
    PARTICIPANT_EVENTS,
    TranscriptData,
)
from unmixed.wire.status import StatusCode, SubCode

DRAIN_SECONDS = 10.0
"""How long receivers get, after the bot left, to take the audio still buffered."""

NOT_LET_IN = frozenset({SubCode.BOT_KICKED_FROM_WAITING_ROOM})
"""Join failures that Recall reports as the end of the call, not as a fault: the
bot did its job, and someone in the meeting said no."""

MODEL_LOAD_SECONDS = 10.0
"""How long a transcribing bot waits for its model before joining anyway (it loads in
about a second; a failed load fails the transcript, not the bot)."""

MODEL_FREE_SECONDS = 5.0
"""How long the bot waits, at its very end, for the model to be freed on its own thread
(milliseconds, unless it is still loading): CTranslate2 aborts a process that exits
around a model in use."""

BOT_DATABASE_CONNECTIONS = 1
"""Kept open per bot (as many more may open for a moment): its status writes and its
lease take turns, and a fleet of bots shares the database's connections."""

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


class ParticipantInput:
    """One participant's `AudioInput`: the adapter pushes their frames here, fifty
    times a second, and finds their stream's state on it, with no lookup."""

    __slots__ = ("_run", "key", "participant_id", "segment", "speech")

    def __init__(self, run: "BotRun", key: str) -> None:
        self._run = run
        self.key = key
        self.participant_id: int | None = None
        self.segment: AudioSegment | None = None
        """While their audio is recorded: from their stream's start to its stop."""
        self.speech: SpeechDetector | None = None
        """When they speak, judged once from their audio for everything that asks
        (`speech_on`/`speech_off`, the transcript's utterances); None when nothing does."""

    def push(self, frame: PcmFrame) -> None:
        try:
            self._run._forward(self, frame)
        except Exception as error:
            self._run._abandon_stream(self.key, error)


class BotRun:
    """One bot's attendance: wires the platform adapter to media and delivery.

    Meeting events arrive through `_on_event`, synchronously, on the loop; audio
    is handled right there. `run` itself only waits: for the adapter to get in
    (or a reason to give up joining), then for a reason to leave: the meeting
    ending, a leave request, or an `automatic_leave` deadline. Every store write
    goes through one `StoreWriter`, so statuses land in the order decided here.
    """

    def __init__(
        self,
        bot: BotRecord,
        bots: Bots,
        adapter: MeetingAdapter,
        egress: EgressPolicy,
        *,
        secret: str | None = None,
    ) -> None:
        """`secret`: the account's verification secret, which signs every connection and
        request to the user's endpoints (None: the account has none yet)."""
        self._bot = bot
        self._adapter = adapter
        self._outbound = Outbound(egress, secret, on_failed=self._endpoint_failed)
        self._failed_endpoints: set[str] = set()
        self._store = StoreWriter(bots, bot.id)
        self._directory = ParticipantDirectory()
        self._flowing: set[str] = set()
        self._inputs: dict[str, ParticipantInput] = {}
        self._recording: RecordingRef | None = None
        self._permission: RecordingPermission | None = None
        self._in_call = False
        self._delivery: AudioSeparateDelivery | None = None
        self._events: ParticipantEventsFeed | None = None
        self._mixed: MixedAudioFeed | None = None
        self._transcript: TranscriptFeed | None = None
        self._transcriber: Transcriber | None = None
        """Loaded before joining when the bot transcribes: importing faster-whisper and
        loading the model hold the interpreter for moments that would delay the first
        audio; before joining, nothing waits for them but the join."""
        self._presence = PresenceRules(bot.automatic_leave)
        self._deadlines: dict[str, float] = {}
        """Other reasons to leave at a given moment (loop time), by sub_code."""
        self._outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting: asyncio.Timeout | None = None
        self._failures: list[BaseException] = []
        self._broken_streams: set[str] = set()
        self._starting_recording = False
        self._paused = False
        """Recording permission was taken back: no stream until it is given again."""
        self.recording_started = asyncio.Event()
        """Set once the bot is `in_call_recording` and streams what it hears."""

    def request_leave(self) -> None:
        """Leave the call now, or stop joining it (`leave_call`, or SIGTERM)."""
        self._conclude(SubCode.BOT_RECEIVED_LEAVE_CALL)

    def stream_reconnects(self) -> int:
        return self._outbound.reconnects()

    async def run(self) -> None:
        """From `joining_call` (the bot was claimed already) to `done` or `fatal`."""
        async with self._store:
            transcript = self._bot.recording_config.transcript
            if transcript is not None:
                self._transcriber = Transcriber(local_model(transcript.provider.model))
                await asyncio.wait([self._transcriber.ready], timeout=MODEL_LOAD_SECONDS)
            try:
                await self._run()
            finally:
                if self._transcriber is not None:  # closed already unless it never recorded
                    loop = asyncio.get_running_loop()
                    await self._transcriber.close(loop.time() + MODEL_FREE_SECONDS)
        if self._failures:
            raise self._failures[0]

    async def _run(self) -> None:
        try:
            gave_up = await self._join()
        except JoinError as error:
            if error.sub_code in NOT_LET_IN:
                self._post(StatusCode.CALL_ENDED, error.sub_code, str(error))
                self._post(StatusCode.DONE)
            else:
                self._post(StatusCode.FATAL, error.sub_code, str(error))
            return
        if gave_up is not None:
            self._post(StatusCode.CALL_ENDED, gave_up)
            self._post(StatusCode.DONE)
            return
        try:
            reason = await self._attend()
        finally:
            await self._adapter.leave()
        self._post(StatusCode.CALL_ENDED, reason)
        self._stop_all_audio()  # what each stream still holds goes out before it closes
        outputs = (self._delivery, self._events, self._mixed, self._transcript)
        closing = [output.close(DRAIN_SECONDS) for output in outputs if output is not None]
        await asyncio.gather(*closing)
        self._post(StatusCode.DONE)

    async def _join(self) -> str | None:
        """Get into the call: None once in, else why the bot stopped trying (a leave
        request, the waiting-room timeout); `JoinError` if it could not get in."""
        if self._outcome.done():
            return self._outcome.result()
        joining = asyncio.create_task(
            self._adapter.join(self._bot.bot_name, self._on_event, self._input)
        )
        try:
            reason = await self._until_reason(joining)
            if reason is not None:
                joining.cancel()
                await asyncio.gather(joining, return_exceptions=True)
                await self._adapter.leave()
                return reason
            joining.result()
        except BaseException:
            joining.cancel()
            await asyncio.gather(joining, return_exceptions=True)
            await self._adapter.leave()
            raise
        self._enter_call()
        return None

    def _enter_call(self) -> None:
        self._in_call = True
        self._deadlines.pop(SubCode.TIMEOUT_EXCEEDED_WAITING_ROOM, None)
        self._post(StatusCode.IN_CALL_NOT_RECORDING)
        self._presence.start()
        self._deadline_in(
            self._bot.automatic_leave.in_call_not_recording_timeout,
            SubCode.TIMEOUT_EXCEEDED_IN_CALL_NOT_RECORDING,
        )
        if self._permission is not None:
            self._on_permission(self._permission)

    async def _attend(self) -> str:
        """Wait for a reason to leave the call, and return it as a sub_code."""
        reason = await self._until_reason()
        assert reason is not None, "without a join to wait for, only a reason ends the wait"
        return reason

    async def _until_reason(self, joining: asyncio.Task[None] | None = None) -> str | None:
        """Wait for a reason to stop (a leave request, the meeting ending, a deadline)
        and return it as a sub_code; None if `joining` finishes first."""
        while joining is None or not joining.done():
            if self._outcome.done():
                return self._outcome.result()
            deadline, sub_code = self._next_deadline()
            waits: set[asyncio.Future[Any]] = {self._outcome}
            if joining is not None:
                waits.add(joining)
            try:
                async with asyncio.timeout_at(deadline) as self._waiting:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError:
                deadline, sub_code = self._next_deadline()  # hearing someone moves some later
                if self._passed(deadline):
                    return sub_code
            finally:
                self._waiting = None
        return None

    def _next_deadline(self) -> tuple[float | None, str]:
        """The earliest deadline: the bot's own, and once in the call, who is present."""
        candidates = [(at, sub_code) for sub_code, at in self._deadlines.items()]
        presence = self._presence.deadline()
        if self._in_call and presence.at is not None:
            candidates.append((presence.at, presence.sub_code))
        return min(candidates, default=(None, ""))

    @staticmethod
    def _passed(deadline: float | None) -> bool:
        return deadline is not None and asyncio.get_running_loop().time() >= deadline

    def _deadline_in(self, seconds: float, sub_code: str) -> None:
        self._deadlines[sub_code] = asyncio.get_running_loop().time() + seconds
        self._deadlines_changed()

    def _conclude(self, reason: str) -> None:
        if not self._outcome.done():
            self._outcome.set_result(reason)

    def _deadlines_changed(self) -> None:
        """Make the wait look at its deadlines again."""
        if self._waiting is not None and not self._waiting.expired():
            self._waiting.reschedule(asyncio.get_running_loop().time())

    def _on_event(self, event: MeetingEvent) -> None:
        """The adapter's sink: a failure costs one participant's stream, or ends the bot
        when it concerns the meeting itself, but never propagates into the platform."""
        try:
            self._handle(event)
        except Exception as error:
            log.exception("failed to handle a meeting event", event_type=type(event).__name__)
            self._fail(error)

    def _abandon_stream(self, key: str, error: Exception) -> None:
        """Stop one participant's stream after an error in it; the others go on."""
        if key not in self._broken_streams:
            self._broken_streams.add(key)
            log.error(
                "participant's audio failed; their stream stops", platform_id=key, exc_info=error
            )
        self._flowing.discard(key)
        if key in self._inputs:
            self._inputs[key].segment = None
            self._end_speech(self._inputs[key])
        participant = self._directory.get(key)
        if participant is not None and self._delivery is not None:
            self._delivery.stop(participant.id)

    def _fail(self, error: BaseException) -> None:
        self._failures.append(error)
        if not self._outcome.done():
            self._outcome.set_exception(error)

    def _handle(self, event: MeetingEvent) -> None:
        match event:
            case AudioStarted(key):
                self._broken_streams.discard(key)
                self._flowing.add(key)
                self._start_audio(key)
            case AudioStopped(key):
                self._flowing.discard(key)
                self._stop_audio(key)
            case ParticipantJoined(participant):
                entry = self._directory.add(participant)
                self._presence.joined(participant.key, participant.name)
                if self._events is not None:
                    self._events.joined(participant.key)
                self._deadlines_changed()
                log.info("participant joined", participant=entry.id, name=entry.name)
            case ParticipantUpdated(participant):
                entry = self._directory.update(participant)
                self._presence.renamed(participant.key, participant.name)
                if self._events is not None:
                    self._events.updated(participant.key)
                self._deadlines_changed()
                log.info("participant updated", participant=entry.id, is_host=entry.is_host)
            case ParticipantLeft(key):
                self._flowing.discard(key)
                self._stop_audio(key)
                self._inputs.pop(key, None)
                if self._events is not None:
                    self._events.left(key)
                self._presence.left(key)
                self._deadlines_changed()
                log.info("participant left", platform_id=key)
            case WaitingRoom():
                self._post(StatusCode.IN_WAITING_ROOM)
                self._deadline_in(
                    self._bot.automatic_leave.waiting_room_timeout,
                    SubCode.TIMEOUT_EXCEEDED_WAITING_ROOM,
                )
            case RecordingPermission():
                self._on_permission(event)
            case MeetingEnded(sub_code):
                self._conclude(sub_code)
            case ActiveSpeaker(key):
                if self._events is not None:
                    self._events.active_speaker(key)
            case MixedAudioReceived():
                pass  # a platform's own mix: the bot mixes its participants itself

    def _on_permission(self, permission: RecordingPermission) -> None:
        """Recording starts once the bot is in the call and allowed to. A refusal
        (at first, or a permission taken back mid-call) pauses every stream and
        starts `recording_permission_denied_timeout`; a later grant resumes."""
        self._permission = permission
        if not self._in_call:
            return
        if not permission.granted:
            self._pause_recording()
            self._post(StatusCode.RECORDING_PERMISSION_DENIED, permission.sub_code)
            if SubCode.TIMEOUT_EXCEEDED_RECORDING_PERMISSION_DENIED not in self._deadlines:
                self._deadline_in(
                    self._bot.automatic_leave.recording_permission_denied_timeout,
                    SubCode.TIMEOUT_EXCEEDED_RECORDING_PERMISSION_DENIED,
                )
            return
        if self._starting_recording and not self._paused:
            return
        self._deadlines.pop(SubCode.TIMEOUT_EXCEEDED_RECORDING_PERMISSION_DENIED, None)
        self._deadlines.pop(SubCode.TIMEOUT_EXCEEDED_IN_CALL_NOT_RECORDING, None)
        self._deadlines_changed()
        if permission.asked:
            self._post(StatusCode.RECORDING_PERMISSION_ALLOWED)
        if self._paused:
            self._resume_recording()
            return
        self._starting_recording = True
        recording = self._store.start_recording()
        recording.add_done_callback(self._recording_started)

    def _pause_recording(self) -> None:
        if self._recording is None or self._paused:
            return
        self._paused = True
        self._stop_all_audio()

    def _stop_all_audio(self) -> None:
        for key in [key for key, audio in self._inputs.items() if audio.segment is not None]:
            self._stop_audio(key)

    def _resume_recording(self) -> None:
        self._paused = False
        self._post(StatusCode.IN_CALL_RECORDING)
        for key in self._flowing:
            self._start_audio(key)

    def _recording_started(self, started: "asyncio.Future[RecordingRef | None]") -> None:
        """In `in_call_recording`: streams of participants already speaking start now."""
        error = started.exception()
        if error is not None:
            self._fail(error)
            return
        self._recording = started.result()
        if self._recording is None or self._outcome.done():
            return  # the bot finished, or is on its way out: nothing more to stream
        self._events = self._participant_events(self._recording)
        self._mixed = self._mixed_audio(self._recording)
        self._transcript = self._transcripts(self._recording)
        artifact = self._bot.recording_config.audio_separate_raw
        if artifact is not None and artifact.id is not None:
            context = StreamContext(
                bot=ObjectRef(id=self._bot.id, metadata=self._bot.metadata),
                recording=ObjectRef(id=self._recording.id, metadata={}),
                audio_separate=ObjectRef(id=artifact.id, metadata=artifact.metadata),
                recording_started=self._recording.started_at,
            )
            self._delivery = AudioSeparateDelivery(
                self._bot.recording_config.realtime_endpoints, context, self._outbound
            )
        for key in self._flowing:
            self._start_audio(key)
        self.recording_started.set()

    def _subscribed(self, events: Iterable[str]) -> bool:
        """Whether any endpoint asked for one of `events`: work nobody receives is not done."""
        wanted = set(events)
        return any(wanted & set(e.events) for e in self._bot.recording_config.realtime_endpoints)

    def _mixed_audio(self, recording: RecordingRef) -> MixedAudioFeed | None:
        artifact = self._bot.recording_config.audio_mixed_raw
        if artifact is None or artifact.id is None or not self._subscribed([AUDIO_MIXED_RAW_DATA]):
            return None
        started_at = recording.started_at.timestamp()
        delivery = AudioMixedDelivery(
            self._bot.recording_config.realtime_endpoints,
            bot=ObjectRef(id=self._bot.id, metadata=self._bot.metadata),
            recording=ObjectRef(id=recording.id, metadata={}),
            audio_mixed=ObjectRef(id=artifact.id, metadata=artifact.metadata),
            recording_started_at=started_at,
            outbound=self._outbound,
        )
        return MixedAudioFeed(delivery, started_at)

    def _participant_events(self, recording: RecordingRef) -> ParticipantEventsFeed | None:
        artifact = self._bot.recording_config.participant_events
        if artifact is None or artifact.id is None or not self._subscribed(PARTICIPANT_EVENTS):
            return None
        delivery = ParticipantEventsDelivery(
            self._bot.recording_config.realtime_endpoints,
            bot=ObjectRef(id=self._bot.id, metadata=self._bot.metadata),
            recording=ObjectRef(id=recording.id, metadata={}),
            participant_events=ObjectRef(id=artifact.id, metadata=artifact.metadata),
            recording_started_at=recording.started_at.timestamp(),
            outbound=self._outbound,
        )
        return ParticipantEventsFeed(
            delivery,
            self._directory,
            self._presence.present,
            platform_speech=self._adapter.reports_speech,
        )

    def _transcripts(self, recording: RecordingRef) -> TranscriptFeed | None:
        """Whether or not an endpoint takes the events, the transcript is kept for its
        download (Recall's quickstart asks for no event at all)."""
        artifact = self._bot.recording_config.transcript
        if artifact is None or artifact.id is None or self._transcriber is None:
            return None
        delivery = TranscriptDelivery(
            self._bot.recording_config.realtime_endpoints,
            bot=ObjectRef(id=self._bot.id, metadata=self._bot.metadata),
            recording=ObjectRef(id=recording.id, metadata={}),
            transcript=ObjectRef(id=artifact.id, metadata=artifact.metadata),
            outbound=self._outbound,
        )
        return TranscriptFeed(
            delivery,
            self._directory,
            self._transcriber,
            recording_started_at=recording.started_at.timestamp(),
            keep=functools.partial(self._keep_utterance, recording.id),
            failed=functools.partial(self._transcript_failed, recording.id),
        )

    def _keep_utterance(self, recording_id: str, utterance: TranscriptData) -> None:
        kept = self._store.keep_utterance(recording_id, utterance)
        kept.add_done_callback(self._transcript_written)

    def _transcript_failed(self, recording_id: str, sub_code: str) -> None:
        self._store.transcript_failed(recording_id, sub_code).add_done_callback(
            self._transcript_written
        )

    @staticmethod
    def _transcript_written(write: "asyncio.Future[None]") -> None:
        """A transcript write the store would not take costs the transcript (the download,
        its status), never the audio: not worth ending the bot for."""
        if write.exception() is not None:
            log.error("a transcript write failed", exc_info=write.exception())

    def _endpoint_failed(self, endpoint_id: str) -> None:
        """Shown on the bot object once, whichever of its streams gave up first."""
        if endpoint_id and endpoint_id not in self._failed_endpoints:
            self._failed_endpoints.add(endpoint_id)
            self._store.endpoint_failed(endpoint_id).add_done_callback(self._written)

    def _post(self, code: str, sub_code: str | None = None, message: str | None = None) -> None:
        """Record a status change, in order; a failed write ends the bot."""
        self._store.status(code, sub_code, message).add_done_callback(self._written)

    def _written(self, write: "asyncio.Future[Any]") -> None:
        error = write.exception()
        if error is not None:
            log.error("a status could not be stored", exc_info=error)
            self._fail(error)

    def _input(self, key: str) -> ParticipantInput:
        """`key`'s audio input (the adapter's `audio_inputs`), the same until they leave."""
        audio = self._inputs.get(key)
        if audio is None:
            audio = self._inputs[key] = ParticipantInput(self, key)
        return audio

    def _forward(self, audio: ParticipantInput, frame: PcmFrame) -> None:
        """A frame of `audio`'s participant: fifty times a second per speaker."""
        self._presence.audio(audio.key, frame)
        segment = audio.segment
        if segment is None:
            return
        try:
            chunks = segment.push(frame)
        except TimelineBreak as jump:
            log.warning(
                "participant's stream jumped; reconnecting it", platform_id=audio.key, why=str(jump)
            )
            self._stop_audio(audio.key)
            self._start_audio(audio.key)
            if audio.segment is None:
                return
            chunks = audio.segment.push(frame)
        if self._delivery is not None and audio.participant_id is not None:
            for chunk in chunks:
                self._delivery.send(audio.participant_id, chunk)
        self._fan_out(audio, chunks)

    def _fan_out(self, audio: ParticipantInput, chunks: list[AudioChunk]) -> None:
        """What a participant's chunks feed besides their own stream: the mix, and what
        their speech makes (events, the transcript)."""
        if self._mixed is not None:
            self._mixed.audio(chunks)
        speech = audio.speech
        if speech is None:
            return
        changes = [change for chunk in chunks for change in speech.push(chunk)]
        if self._events is not None:
            self._events.speech(audio.key, changes)
        if self._transcript is not None:
            self._transcript.audio(audio.key, chunks, changes, pausing=speech.pausing)

    def _end_speech(self, audio: ParticipantInput) -> None:
        """Their audio stopped: so did their speech, for everything that followed it."""
        ending = audio.speech.end() if audio.speech is not None else []
        audio.speech = None
        if self._events is not None:
            self._events.speech(audio.key, ending)
            self._events.audio_stopped(audio.key)
        if self._transcript is not None:
            self._transcript.audio_stopped(audio.key, ending)

    def _judges_speech(self) -> bool:
        """Whether anything asks when people speak, that the platform does not say."""
        return self._transcript is not None or (
            self._events is not None and not self._adapter.reports_speech
        )

    @_one_participant
    def _start_audio(self, key: str) -> None:
        participant = self._directory.get(key)
        outputs = (self._delivery, self._events, self._mixed, self._transcript)
        if participant is None or self._recording is None or self._paused:
            return
        if all(output is None for output in outputs):
            return  # nobody receives anything made from the audio
        audio = self._input(key)
        audio.participant_id = participant.id
        audio.segment = AudioSegment(not_before=self._recording.started_at.timestamp())
        audio.speech = SpeechDetector() if self._judges_speech() else None
        if self._delivery is not None:
            self._delivery.start(participant)
        log.info("audio started", participant=participant.id)

    @_one_participant
    def _stop_audio(self, key: str) -> None:
        audio = self._inputs.get(key)
        participant = self._directory.get(key)
        if audio is None or audio.segment is None or participant is None:
            return
        rest = audio.segment.flush()
        audio.segment = None
        if self._delivery is not None:
            for chunk in rest:
                self._delivery.send(participant.id, chunk)
            self._delivery.stop(participant.id)
        self._fan_out(audio, rest)
        self._end_speech(audio)
        log.info("audio stopped", participant=participant.id)


async def run_bot(bot_id: str, settings: Settings) -> int:
    """Attend the meeting; the process's exit code."""
    for password in settings.connection_passwords():
        register_secret(password)
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    database = open_database(settings.resolved_database_url(), pool_size=BOT_DATABASE_CONNECTIONS)
    bots = Bots(database)
    bot = bots.record(bot_id)
    register_secret(bot.meeting.meeting_password)
    structlog.contextvars.bind_contextvars(bot=bot_id)
    leases = Leases(database)
    if not leases.claim(bot_id, holder=process_holder(os.getpid()), lease=LEASE):
        log.warning("another process already started this bot", status=bot.status)
        return ALREADY_CLAIMED_EXIT_CODE
    try:
        adapter = adapter_for(bot, settings)
    except JoinError as error:
        bots.change_status(bot_id, StatusCode.FATAL, error.sub_code, str(error))
        return 0
    except Exception:
        log.exception("could not set up the platform adapter")
        bots.change_status(bot_id, StatusCode.FATAL, SubCode.BOT_ERRORED, BOT_ERRORED_MESSAGE)
        return 1
    egress = EgressPolicy(allow_private=settings.egress_allow_private)
    secret = WebhookEndpoints(database).secret(bot.owner)
    run = BotRun(bot, bots, adapter, egress, secret=secret)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, run.request_leave)
    lease = BotLease(
        leases,
        bot_id,
        on_leave=run.request_leave,
        reconnects=run.stream_reconnects,
        redis_url=redis_url,
    )
    exit_code = 0
    try:
        async with lease:
            await run.run()
    except Exception:
        log.exception("bot crashed")
        bots.change_status(bot_id, StatusCode.FATAL, SubCode.BOT_ERRORED, BOT_ERRORED_MESSAGE)
        exit_code = 1
    if adapter.exits_hard:
        flush_logs()
        os._exit(exit_code)
    return exit_code


def main() -> None:
    configure_logging(process="bot")
    sys.exit(asyncio.run(run_bot(sys.argv[1], Settings())))


if __name__ == "__main__":
    main()
