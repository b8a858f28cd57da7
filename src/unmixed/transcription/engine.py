"""One Whisper model per bot process, on a thread of its own, behind a bounded queue.

The bot's event loop carries everyone's audio fifty times a second; a model
that takes half a second per utterance must never run there. So the loop only
queues utterances (`submit` never blocks) and gets words back through
`call_soon_threadsafe`. The thread uses one core (CTranslate2, int8) at a lower
priority than the audio (nice `NICENESS`), so a busy model takes the CPU audio does
not need, here and in the other bots on the machine. Importing faster-whisper and
loading the model hold the interpreter for a good part of a second, so a bot waits
for `ready` before it joins, when no audio flows yet.

When utterances come faster than the model keeps up, what goes first is what
matters least: a partial is dropped while a final waits or is being transcribed,
a newer partial of the same participant replaces the queued one, and a final
makes its own partials moot. Finals are dropped only past `MAX_QUEUED_FINALS`,
oldest first, and counted.
"""

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from unmixed.transcription.models import LocalModel
from unmixed.transcription.utterances import Utterance

MAX_QUEUED_FINALS = 60
"""Finals queued beyond this are dropped, oldest first. A transcription costs about half
a second of CPU however short the utterance, so this is about half a minute behind: a
model that far behind cannot catch up while people keep talking."""

NICENESS = 10
"""The model thread's nice value: audio first."""

os.environ.setdefault("HF_HUB_OFFLINE", "1")
"""Models are given as bytes (`files=`) and never looked up; with the hub off, nothing in
faster-whisper could reach the network even by mistake. Set at import, on the main
thread, before anything imports `huggingface_hub`."""

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    """Unix times, on the audio's capture clock."""


@dataclass(frozen=True)
class Job:
    key: str
    """Whose utterance: the participant's key on the platform."""
    utterance: Utterance
    queued_at: float
    """Monotonic time it was queued."""


@dataclass(frozen=True)
class Transcribed:
    job: Job
    words: list[Word]


@dataclass
class EngineCounters:
    finals: int = 0
    partials: int = 0
    partials_dropped: int = 0
    finals_dropped: int = 0


class Transcriber:
    """Runs `model` on utterances; `on_words`, once set, is called on the loop with each
    result (none comes before the first `submit`)."""

    def __init__(self, model: LocalModel) -> None:
        self._model = model
        self.on_words: Callable[[Transcribed], None] = _unheard
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Condition()
        self._finals: deque[Job] = deque()
        self._partials: dict[str, Job] = {}
        self._busy = False
        self._final_in_hand = False
        self._closing = False
        self.counters = EngineCounters()
        self.ready: asyncio.Future[None] = self._loop.create_future()
        """Done once the model is loaded; failed (`ModelUnavailable`, or the load's own
        error) if it could not be."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._work, name="transcriber", daemon=True)
        self._thread.start()

    def submit(self, key: str, utterance: Utterance) -> None:
        """Queue `utterance` of participant `key`; never waits."""
        job = Job(key, utterance, time.monotonic())
        with self._lock:
            if self._closing:
                return
            if utterance.final:
                if self._partials.pop(key, None) is not None:
                    self.counters.partials_dropped += 1
                self._finals.append(job)
                self._drop_finals_past_backlog()
            elif self._finals or self._final_in_hand:
                self.counters.partials_dropped += 1
                return
            else:
                if key in self._partials:
                    self.counters.partials_dropped += 1
                self._partials[key] = job
            self._idle.clear()
            self._lock.notify()

    async def close(self, deadline: float) -> None:
        """Transcribe the finals queued until loop time `deadline`, then stop: results
        after that are dropped, and the thread frees the model (on its own thread, as
        CTranslate2 expects) if it can by then. The partials queued are moot: their
        finals are on the way. Closing twice is closing once."""
        with self._lock:
            self.counters.partials_dropped += len(self._partials)
            self._partials.clear()
        self._mark_idle()
        if not self._idle.is_set():
            try:
                async with asyncio.timeout_at(deadline):
                    await self._idle.wait()
            except TimeoutError:
                log.warning("utterances left untranscribed at the end", left=len(self._finals))
        with self._lock:
            self._closing = True
            self._finals.clear()
            self._lock.notify()
        self.on_words = _unheard
        left = max(0.0, deadline - self._loop.time())
        await asyncio.to_thread(self._thread.join, left)

    def _drop_finals_past_backlog(self) -> None:
        while len(self._finals) > MAX_QUEUED_FINALS:
            dropped = self._finals.popleft()
            self.counters.finals_dropped += 1
            log.warning(
                "transcription is too far behind; an utterance is dropped",
                seconds=round(dropped.utterance.seconds, 1),
            )

    def _next(self) -> Job | None:
        """The next job, finals first; None once closing. Called on the thread."""
        with self._lock:
            self._busy = self._final_in_hand = False
            while not self._closing and not self._finals and not self._partials:
                self._tell(self._mark_idle)
                self._lock.wait()
            if self._closing:
                return None
            self._busy = True
            if self._finals:
                self._final_in_hand = True
                return self._finals.popleft()
            oldest = min(self._partials.values(), key=lambda job: job.queued_at)
            return self._partials.pop(oldest.key)

    def _mark_idle(self) -> None:
        """On the loop: idle, unless something was queued since the thread said so."""
        with self._lock:
            if self._closing or not (self._finals or self._partials or self._busy):
                self._idle.set()

    def _work(self) -> None:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        try:
            whisper = self._load()
        except Exception as error:
            with self._lock:
                self._closing = True
                self._finals.clear()
                self._partials.clear()
            self._tell(_fail, self.ready, error)
            self._tell(self._mark_idle)
            return
        self._tell(_succeed, self.ready)
        while (job := self._next()) is not None:
            try:
                words = _transcribe(whisper, job.utterance)
            except Exception:
                log.exception("an utterance could not be transcribed")
                continue
            if job.utterance.final:
                self.counters.finals += 1
            else:
                self.counters.partials += 1
            self._tell(self._deliver, Transcribed(job, words))

    def _deliver(self, result: Transcribed) -> None:
        """On the loop: `on_words` is read here, so a closed engine's late result is dropped."""
        self.on_words(result)

    def _tell(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback(*args)` on the loop; a loop already closed (the bot finished while
        the model worked) has no use for it."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _load(self) -> Any:
        """Import faster-whisper and load the model, here on the thread: together they
        take half a second the audio must not wait for."""
        files = self._model.read()
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # a line per utterance
        return WhisperModel(
            self._model.name,
            device="cpu",
            compute_type="int8",
            cpu_threads=1,
            local_files_only=True,
            files=files,
        )


def _transcribe(whisper: Any, utterance: Utterance) -> list[Word]:
    """The utterance's words. `vad_filter` runs Silero (which faster-whisper ships) over it
    first: webrtcvad, which cut it, takes a steady tone or music for a voice, and Whisper
    makes words of those ("Beep beep beep...", 112 of them from 3 s of 440 Hz); Silero
    keeps speech, so such an utterance costs milliseconds and says nothing."""
    audio = np.frombuffer(utterance.pcm, dtype=np.int16).astype(np.float32) / 32768.0
    segments, _ = whisper.transcribe(
        audio,
        language="en",
        beam_size=1,
        temperature=0.0,
        word_timestamps=True,
        condition_on_previous_text=False,
        vad_filter=True,
    )
    at = utterance.started_at
    first, last = utterance.voice
    return [
        Word(
            text=word.word.strip(),
            start=min(max(at + word.start, first), last),
            end=min(max(at + word.end, first), last),
        )
        for segment in segments
        for word in segment.words or []
        if word.word.strip()
    ]


def _unheard(result: Transcribed) -> None:
    """Where results go before anyone listens, and after the engine closed."""


def _succeed(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail(future: asyncio.Future[None], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
