"""A thin async client for unmixed's bot API, used by the demo and the benchmark."""

import asyncio
from collections.abc import Set as AbstractSet
from typing import Any

import httpx

from unmixed.service import Service
from unmixed.wire.bots import Bot


class UnmixedClient(Service):
    """`async with UnmixedClient(base_url, api_key) as client: await client.create_bot(...)`"""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Token {api_key}"}, timeout=30
        )

    async def create_bot(self, **request: Any) -> Bot:
        response = await self._http.post("/api/v1/bot/", json=request)
        response.raise_for_status()
        return Bot.model_validate(response.json())

    async def bot(self, bot_id: str) -> Bot:
        response = await self._http.get(f"/api/v1/bot/{bot_id}/")
        response.raise_for_status()
        return Bot.model_validate(response.json())

    async def wait_for_status(
        self, bot_id: str, codes: AbstractSet[str], *, timeout: float, every: float = 0.2
    ) -> Bot:
        """Poll the bot, as a Recall client without webhooks would, until it reaches a code."""
        async with asyncio.timeout(timeout):
            while True:
                bot = await self.bot(bot_id)
                if bot.status_changes[-1].code in codes:
                    return bot
                await asyncio.sleep(every)

    async def start(self) -> None:
        """Nothing to do: connections open on first use."""

    async def stop(self) -> None:
        await self._http.aclose()
