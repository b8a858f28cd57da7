"""Everything unmixed needs, on this machine: a testbed SFU, the API, a receiver.

The demo and the benchmark both start this stack and send a bot through the
real HTTP API, exactly as a user would.
"""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.settings import Settings
from unmixed.testbed.server import JanusServer
from unmixed.wire.bots import Bot
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA
from unmixed.wire.status import StatusCode

BOT_READY_TIMEOUT = 30.0


@dataclass
class LocalStack:
    janus: JanusServer
    receiver: AudioReceiver
    api: ApiServer
    client: AsyncUnmixedClient

    async def send_bot(self, meeting_url: str, bot_name: str = "unmixed") -> Bot:
        """Create a bot with Recall's request shape and wait until it is recording."""
        bot = await self.create_bot(meeting_url, bot_name)
        return await self.client.wait_for_status(
            bot.id, {StatusCode.IN_CALL_RECORDING, *FINISHED}, timeout=BOT_READY_TIMEOUT
        )

    async def create_bot(self, meeting_url: str, bot_name: str = "unmixed") -> Bot:
        """Create a bot that streams to this stack's receiver, with Recall's request shape;
        the API answers at once, before the bot has joined."""
        return await self.client.create_bot(
            meeting_url=meeting_url,
            bot_name=bot_name,
            recording_config={
                "audio_separate_raw": {},
                "realtime_endpoints": [
                    {
                        "type": "websocket",
                        "url": self.receiver.url,
                        "events": [AUDIO_SEPARATE_RAW_DATA],
                    }
                ],
            },
        )


FINISHED = {StatusCode.DONE, StatusCode.FATAL}


POLLS_PER_BOT_PER_MINUTE = 300
"""Recall's per-key rate for every route but creating and listing: one client polling one bot."""


@asynccontextmanager
async def local_stack(
    work_dir: Path, out_dir: Path | None = None, *, bots: int = 1
) -> AsyncIterator[LocalStack]:
    """Janus, an API with a throwaway SQLite database in `work_dir`, and a receiver.

    `bots` above 1 sizes the API for that many bots at once from this one client
    (the bench's fleet): that many slots, whatever the machine's default, and a
    per-key rate that lets it poll each of them as it would poll one."""
    api_key = secrets.token_urlsafe(16)
    settings = Settings(
        data_dir=work_dir, database_url=None, api_key=SecretStr(api_key), testbed_enabled=True
    )
    if bots > 1:
        settings = settings.model_copy(
            update={
                "bot_slots": bots,
                "rate_limit_other": f"{POLLS_PER_BOT_PER_MINUTE * bots}/minute",
            }
        )
    async with (
        JanusServer() as janus,
        AudioReceiver(out_dir=out_dir) as receiver,
        ApiServer(settings) as api,
        AsyncUnmixedClient(api.url, api_key) as client,
    ):
        yield LocalStack(janus, receiver, api, client)
