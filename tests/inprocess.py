"""The real bot runner in the test's own process: a stored bot, any adapter, real
media and delivery to real receivers, and the bot as the API would show it."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from unmixed.bots.lease import LEASE
from unmixed.bots.runner import BotRun
from unmixed.egress import EgressPolicy
from unmixed.platforms.base import MeetingAdapter
from unmixed.receiver import AudioReceiver
from unmixed.store import ENVIRONMENT_KEY, Bots, open_database
from unmixed.store.leases import Leases
from unmixed.wire.bots import Bot, BotCreate
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA

ZOOM_MEETING = "https://zoom.us/j/85512345678?pwd=secret"


async def attend_in_process(
    adapter: MeetingAdapter,
    receivers: list[AudioReceiver],
    tmp_path: Path,
    *,
    leave_when: Callable[[], Awaitable[object]] | None = None,
    secret: str | None = None,
    **request: Any,
) -> Bot:
    """Run the bot with `adapter` from `joining_call` to its end; `request` overrides
    fields of the create request (e.g. `automatic_leave`). With `leave_when`, the bot
    is asked to leave (as by `leave_call`) once that returns. `secret` is the account's
    verification secret, as a bot process would read it from the store."""
    database = open_database(f"sqlite:///{tmp_path / 'bots.db'}", migrate=True)
    bots = Bots(database)
    create = BotCreate.model_validate(
        {
            "meeting_url": ZOOM_MEETING,
            "bot_name": "scripted",
            "recording_config": {
                "audio_separate_raw": {},
                "realtime_endpoints": [
                    {"type": "websocket", "url": receiver.url, "events": [AUDIO_SEPARATE_RAW_DATA]}
                    for receiver in receivers
                ],
            },
            **request,
        }
    )
    stored = bots.create(create, create.parsed_meeting_url(), ENVIRONMENT_KEY)
    assert Leases(database).claim(stored.id, holder="test", lease=LEASE)
    run = BotRun(bots.record(stored.id), bots, adapter, EgressPolicy(), secret=secret)
    if hasattr(adapter, "recording_started"):
        adapter.recording_started = run.recording_started
    async with asyncio.TaskGroup() as group:
        attending = group.create_task(run.run())
        if leave_when is not None:
            group.create_task(_leave_after(leave_when, run, attending))
    bot = bots.get(stored.id)
    assert bot is not None
    return bot


async def _leave_after(
    condition: Callable[[], Awaitable[object]], run: BotRun, attending: asyncio.Task[None]
) -> None:
    waiting = asyncio.ensure_future(condition())
    await asyncio.wait({waiting, attending}, return_when=asyncio.FIRST_COMPLETED)
    if waiting.done():
        run.request_leave()
    waiting.cancel()
