"""Which site profile a meeting link calls for."""

from urllib.parse import urlsplit

from unmixed.platforms.browser import meet, teams, testbed_web
from unmixed.platforms.browser.profiles import PageProfile
from unmixed.wire.meeting_url import Platform
from unmixed.wire.realtime import ParticipantPlatform


def profile_for(
    meeting_url: str, platform: Platform
) -> tuple[PageProfile, ParticipantPlatform | None]:
    """The profile for the link, and what to report as its participants' platform
    (the testbed knows its people are on desktop; a web client does not say)."""
    if platform == Platform.TESTBED_WEB:
        room_kind = urlsplit(meeting_url).path.strip("/").split("/")[0]
        profile = testbed_web.AUDIOBRIDGE if room_kind == "audiobridge" else testbed_web.VIDEOROOM
        return profile, "desktop"
    if platform == Platform.MICROSOFT_TEAMS:
        return teams.PROFILE, "unknown"
    if platform == Platform.GOOGLE_MEET:
        return meet.PROFILE, "unknown"
    raise ValueError(f"{platform} is not joined through a browser")
