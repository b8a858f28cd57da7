"""From each participant's audio to their transcript: cut, transcribed, sent, kept.

Each participant has a cutter of their own (`transcription.utterances`); the
bot has one engine for all (`transcription.engine`). Words come back on the
loop, are dated on the recording's timeline, and go out as `transcript.data`
(kept in the store, for the transcript download) or `transcript.partial_data`.
A model that fails to load costs the transcript, never the audio.
"""

import asyncio
from collections.abc import Callable

import structlog

from unmixed.bots.participants import ParticipantDirectory
from unmixed.delivery.transcript import TranscriptDelivery
from unmixed.media import AudioChunk
from unmixed.media.speech import SpeechChange
from unmixed.transcription.engine import Transcribed, Transcriber
from unmixed.transcription.utterances import Utterance, UtteranceCutter
from unmixed.wire.realtime import Timestamp, TranscriptData, TranscriptWord

MODEL_UNAVAILABLE = "transcription_model_unavailable"
"""The transcript's sub_code when the bot could not load the model it was created with."""

log = structlog.get_logger(__name__)


class TranscriptFeed:
    def __init__(
        self,
        delivery: TranscriptDelivery,
        directory: ParticipantDirectory,
        engine: Transcriber,
        *,
        recording_started_at: float,
        keep: Callable[[TranscriptData], None],
        failed: Callable[[str], None],
    ) -> None:
        """`keep`: stores each final utterance; `failed`: tells the store the transcript
        failed, and why (a sub_code)."""
        self._delivery = delivery
        self._directory = directory
        self._recording_started_at = recording_started_at
        self._keep = keep
        self._on_failure = failed
        self._cutters: dict[str, UtteranceCutter] = {}
        self._engine = engine
        engine.on_words = self._transcribed
        engine.ready.add_done_callback(self._loaded)
        self._failed = False
        self._broken: set[str] = set()

    def audio(
        self, key: str, chunks: list[AudioChunk], changes: list[SpeechChange], *, pausing: bool
    ) -> None:
        """`key`'s chunks, and when their speech started or stopped in them. Never
        raises: a fault here costs this participant's transcript, not their audio."""
        if self._failed or key in self._broken:
            return
        cutter = self._cutters.get(key)
        if cutter is None:
            cutter = self._cutters[key] = UtteranceCutter(partials=self._delivery.wants_partials)
        try:
            self._submit(key, cutter.push(chunks, changes, pausing=pausing))
        except Exception:
            log.exception("a participant's transcript failed; their audio goes on", platform_id=key)
            self._broken.add(key)
            self._cutters.pop(key, None)

    def audio_stopped(self, key: str, changes: list[SpeechChange]) -> None:
        """Their audio stopped (a mute, a leave, the end), and with it their speech
        (`changes`): what they were saying is final."""
        broken = key in self._broken
        self._broken.discard(key)
        cutter = self._cutters.pop(key, None)
        if cutter is None or self._failed or broken:
            return
        try:
            self._submit(key, cutter.end(changes))
        except Exception:
            log.exception("a participant's last utterance was lost", platform_id=key)

    async def close(self, drain_seconds: float) -> None:
        """Transcribe what is still queued, then let receivers take it: half the time for
        each, so the whole takes no longer than the audio's own drain."""
        loop = asyncio.get_running_loop()
        await self._engine.close(loop.time() + drain_seconds / 2)
        counted = self._engine.counters
        log.info(
            "transcription finished",
            finals=counted.finals,
            partials=counted.partials,
            partials_dropped=counted.partials_dropped,
            finals_dropped=counted.finals_dropped,
        )
        await self._delivery.close(drain_seconds / 2)

    def _submit(self, key: str, utterances: list[Utterance]) -> None:
        for utterance in utterances:
            self._engine.submit(key, utterance)

    def _transcribed(self, result: Transcribed) -> None:
        participant = self._directory.get(result.job.key)
        if participant is None or not result.words:
            return
        started = self._recording_started_at
        data = TranscriptData(
            words=[
                TranscriptWord(
                    text=word.text,
                    start_timestamp=Timestamp.at(word.start, started),
                    end_timestamp=Timestamp.at(word.end, started),
                )
                for word in result.words
            ],
            participant=participant,
        )
        final = result.job.utterance.final
        self._delivery.send(data, final=final)
        if final:
            self._keep(data)

    def _loaded(self, ready: "asyncio.Future[None]") -> None:
        error = ready.exception()
        if error is not None:
            self._failed = True
            self._cutters.clear()
            log.error("the transcription model could not be loaded; no transcript", why=str(error))
            self._on_failure(MODEL_UNAVAILABLE)
