"""Which adapter attends which meeting."""

from unmixed.platforms.base import JoinError, MeetingAdapter
from unmixed.platforms.testbed import TestbedAdapter
from unmixed.store import BotRecord
from unmixed.wire.meeting_url import Platform
from unmixed.wire.status import SubCode


def adapter_for(bot: BotRecord) -> MeetingAdapter:
    if bot.meeting.platform == Platform.TESTBED:
        return TestbedAdapter(bot.meeting_url)
    raise JoinError(
        SubCode.PLATFORM_NOT_SUPPORTED,
        f"{bot.meeting.platform} meetings are recognised but this unmixed cannot join them yet",
    )
