"""Which adapter attends which meeting, made with the settings it needs.

Adapters are imported here, lazily: a Zoom bot never loads aiortc, a testbed
bot never loads the Zoom SDK or Playwright.
"""

from unmixed.egress import EgressPolicy
from unmixed.platforms.base import JoinError, MeetingAdapter
from unmixed.settings import Settings
from unmixed.store import BotRecord
from unmixed.wire.meeting_url import Platform
from unmixed.wire.status import SubCode

TESTBED_MODULES = ("unmixed.platforms.testbed", "cryptography.hazmat.backends.openssl.backend")
"""The testbed adapter (aiortc and PyAV: about 35 MiB and a third of a second), and
what aiortc loads at its first DTLS handshake (7.5 MiB)."""


def preloaded_modules(settings: Settings) -> tuple[str, ...]:
    """Adapter modules the warm bot process imports before it forks bots, so that each
    bot shares them instead of loading its own: the testbed's, where testbed
    meetings are on.

    Zoom's SDK and the browser bot's Playwright are left to the bots that use them:
    every other bot forked here would carry them, and their own start (the SDK's
    sign-in, Chromium) dwarfs the import.
    """
    return TESTBED_MODULES if settings.testbed_enabled else ()


def adapter_for(bot: BotRecord, settings: Settings) -> MeetingAdapter:
    egress = EgressPolicy(allow_private=settings.egress_allow_private)
    if bot.meeting.platform == Platform.TESTBED:
        if not settings.testbed_enabled:
            raise JoinError(
                SubCode.PLATFORM_NOT_SUPPORTED, "testbed meetings are switched off on this server"
            )
        from unmixed.platforms.testbed import TestbedAdapter

        return TestbedAdapter(bot.meeting_url, egress)
    if bot.meeting.platform == Platform.ZOOM:
        return _zoom_adapter(bot, settings)
    if bot.meeting.platform.needs_browser:
        return _browser_adapter(bot, settings, egress)
    raise JoinError(
        SubCode.PLATFORM_NOT_SUPPORTED,
        f"{bot.meeting.platform} meetings are recognised but this unmixed cannot join them yet",
    )


def _browser_adapter(bot: BotRecord, settings: Settings, egress: EgressPolicy) -> MeetingAdapter:
    if bot.meeting.platform == Platform.TESTBED_WEB and not settings.testbed_enabled:
        raise JoinError(
            SubCode.PLATFORM_NOT_SUPPORTED, "testbed meetings are switched off on this server"
        )
    try:
        from unmixed.platforms.browser.adapter import BrowserAdapter
        from unmixed.platforms.browser.sites import profile_for
    except ImportError as error:
        raise JoinError(
            SubCode.PLATFORM_NOT_SUPPORTED,
            "the browser bot is not installed here: pip install 'unmixed[browser]'",
        ) from error
    profile, participant_platform = profile_for(bot.meeting_url, bot.meeting.platform)
    return BrowserAdapter(
        bot.meeting_url, profile, egress, participant_platform=participant_platform
    )


def _zoom_adapter(bot: BotRecord, settings: Settings) -> MeetingAdapter:
    secret = settings.zoom_client_secret.get_secret_value() if settings.zoom_client_secret else ""
    if not settings.zoom_client_id or not secret:
        raise JoinError(
            SubCode.ZOOM_SDK_CREDENTIALS_MISSING,
            "this server has no Zoom Meeting SDK app: set UNMIXED_ZOOM_CLIENT_ID and "
            "UNMIXED_ZOOM_CLIENT_SECRET",
        )
    try:
        from unmixed.platforms.zoom import ZoomAdapter, ZoomCredentials

        credentials = ZoomCredentials(settings.zoom_client_id, secret)
        return ZoomAdapter(bot.meeting, bot.zoom, credentials)
    except ImportError as error:
        raise JoinError(
            SubCode.PLATFORM_NOT_SUPPORTED,
            "the Zoom Meeting SDK is not installed here: pip install 'unmixed[zoom]'",
        ) from error
