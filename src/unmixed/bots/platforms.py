"""Which adapter attends which meeting."""

from unmixed.egress import EgressPolicy
from unmixed.platforms.base import JoinError, MeetingAdapter
from unmixed.settings import Settings
from unmixed.store import BotRecord
from unmixed.wire.meeting_url import Platform
from unmixed.wire.status import SubCode


def adapter_for(bot: BotRecord, settings: Settings) -> MeetingAdapter:
    egress = EgressPolicy(allow_private=settings.egress_allow_private)
    if bot.meeting.platform == Platform.TESTBED:
        if not settings.testbed_enabled:
            raise JoinError(
                SubCode.PLATFORM_NOT_SUPPORTED, "testbed meetings are switched off on this server"
            )
        from unmixed.platforms.testbed import TestbedAdapter

        return TestbedAdapter(bot.meeting_url, egress)
    raise JoinError(
        SubCode.PLATFORM_NOT_SUPPORTED,
        f"{bot.meeting.platform} meetings are recognised but this unmixed cannot join them yet",
    )
