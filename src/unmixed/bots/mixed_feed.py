"""The mixed stream's clock: every block of the mix goes out when its wait is over.

Participants' audio arrives when it arrives, but the mix must keep time even
when nobody speaks; so a task of its own, not the audio, sends each block.
"""

import asyncio
import time
from collections.abc import Iterable

import structlog

from unmixed.delivery.audio_mixed import AudioMixedDelivery
from unmixed.media import AudioChunk
from unmixed.media.mixer import BLOCK_SECONDS, Mixer

log = structlog.get_logger(__name__)


class MixedAudioFeed:
    def __init__(self, delivery: AudioMixedDelivery, started_at: float) -> None:
        self._delivery = delivery
        self._mixer = Mixer(started_at)
        self._ticking = asyncio.create_task(self._tick(), name="mixed-audio")

    def audio(self, chunks: Iterable[AudioChunk]) -> None:
        self._mixer.add(chunks)

    async def _tick(self) -> None:
        while True:
            for chunk in self._mixer.ready(time.time()):
                self._delivery.send(chunk)
            await asyncio.sleep(BLOCK_SECONDS)

    async def close(self, drain_seconds: float) -> None:
        """Send the rest of the mix, then let receivers take it."""
        self._ticking.cancel()
        await asyncio.gather(self._ticking, return_exceptions=True)
        for chunk in self._mixer.ready(time.time()) + self._mixer.rest():
            self._delivery.send(chunk)
        if self._mixer.late_samples:
            log.warning("audio left out of the mix", seconds=self._mixer.late_samples / 16_000)
        await self._delivery.close(drain_seconds)
