"""A bot's writes to the store, one at a time and in the order they were asked for.

The bot decides what happened on its event loop, but a write takes a database
round trip on a thread. Asking is synchronous and appends to one queue that a
single task works through, so the store sees statuses in exactly the order the
bot decided them, whatever the adapter awaits in between: ordered by
construction, not by the luck of task scheduling.
"""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

from unmixed.service import Service
from unmixed.store import Bots
from unmixed.store.repository import RecordingRef
from unmixed.store.transcripts import Transcripts
from unmixed.wire.realtime import TranscriptEntry

Result = TypeVar("Result")

log = structlog.get_logger(__name__)


class StoreWriter(Service):
    def __init__(self, bots: Bots, bot_id: str) -> None:
        self._bots = bots
        self._transcripts = Transcripts(bots.database)
        self._bot_id = bot_id
        self._queue: asyncio.Queue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None

    def status(
        self, code: str, sub_code: str | None = None, message: str | None = None
    ) -> asyncio.Future[bool]:
        """Append a status change; the future says whether the bot was still going."""
        log.info("status", code=code, sub_code=sub_code)
        return self._ask(lambda: self._bots.change_status(self._bot_id, code, sub_code, message))

    def endpoint_failed(self, endpoint_id: str) -> asyncio.Future[None]:
        log.warning("a realtime endpoint failed", endpoint=endpoint_id)
        return self._ask(lambda: self._bots.endpoint_failed(self._bot_id, endpoint_id))

    def start_recording(self) -> asyncio.Future[RecordingRef | None]:
        """Enter `in_call_recording` and open its recording, in one transaction."""
        log.info("status", code="in_call_recording", sub_code=None)
        return self._ask(lambda: self._bots.start_recording(self._bot_id))

    def keep_utterance(self, recording_id: str, utterance: TranscriptEntry) -> asyncio.Future[None]:
        return self._ask(lambda: self._transcripts.add(recording_id, utterance))

    def transcript_failed(self, recording_id: str, sub_code: str) -> asyncio.Future[None]:
        log.error("the transcript failed", sub_code=sub_code)
        return self._ask(lambda: self._transcripts.failed(recording_id, sub_code))

    def _ask(self, write: Callable[[], Result]) -> asyncio.Future[Result]:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((write, done))
        return done

    async def start(self) -> None:
        self._task = asyncio.create_task(self._work(), name="store-writes")

    async def stop(self) -> None:
        """Finish every write asked for so far."""
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task

    async def _work(self) -> None:
        while (item := await self._queue.get()) is not None:
            write, done = item
            try:
                result = await asyncio.to_thread(write)
            except Exception as error:
                if not done.cancelled():
                    done.set_exception(error)
            else:
                if not done.cancelled():
                    done.set_result(result)
