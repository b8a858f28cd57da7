"""Run a scenario in a testbed room with a bot created through the API, as a user would."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.wire.bots import Bot
from unmixed.wire.status import FINAL_CODES, StatusCode

During = Callable[[TestbedMeeting], Awaitable[None]]


@dataclass
class Attended:
    bot: Bot
    meeting: TestbedMeeting


def audio_endpoint(receiver: AudioReceiver, query: str = "") -> dict[str, Any]:
    return {
        "type": "websocket",
        "url": receiver.url + query,
        "events": ["audio_separate_raw.data"],
        "metadata": {"receiver": str(receiver.port)},
    }


async def attend(
    client: AsyncUnmixedClient,
    janus_url: str,
    receivers: list[AudioReceiver],
    scenario: dict[str, Any],
    *,
    during: During | None = None,
    through_browser: bool = False,
    **bot_options: Any,
) -> Attended:
    """Open the room, send the bot, play the scenario once it records, wait until it is done.

    `through_browser`: the bot joins the room's web meeting page in Chromium; a
    `recording_config` among `bot_options` replaces the one made for `receivers`."""
    async with TestbedMeeting(janus_url, Scenario.model_validate(scenario)) as meeting:
        bot = await client.create_bot(
            meeting_url=meeting.web_meeting_url if through_browser else meeting.meeting_url,
            bot_name="test bot",
            metadata={"test": "yes"},
            **{
                "recording_config": {
                    "audio_separate_raw": {},
                    "realtime_endpoints": [audio_endpoint(receiver) for receiver in receivers],
                },
                **bot_options,
            },
        )
        await client.wait_for_status(bot.id, {StatusCode.IN_CALL_RECORDING}, timeout=45)
        async with asyncio.TaskGroup() as group:
            group.create_task(meeting.play())
            if during is not None:
                group.create_task(during(meeting))
        bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
    return Attended(bot, meeting)
