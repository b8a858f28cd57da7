"""What the SDK's result codes mean for the bot, in Recall's sub_codes and our own words.

The tables are built from the SDK module in use (the real one, or the tests'
fake), so every member they name is one the SDK has. The SDK's own text never
reaches a status message: the code is logged, the message is ours.
"""

from types import ModuleType
from typing import Any

from unmixed.platforms.base import JoinError
from unmixed.wire.status import SubCode

Outcome = tuple[SubCode, str]

AUTH_UNAVAILABLE: Outcome = (
    SubCode.ZOOM_AUTH_FAILED,
    "Zoom did not accept the bot's SDK app right now (no answer, or the service is busy)",
)
AUTH_REFUSED: Outcome = (
    SubCode.ZOOM_INVALID_SIGNATURE,
    "Zoom refused the SDK app's signature: check the client id and secret",
)
AUTH_NOT_ALLOWED: Outcome = (
    SubCode.ZOOM_AUTH_FAILED,
    "Zoom does not let this SDK app join meetings (account, app or SDK version)",
)
CREDENTIALS_MISSING: Outcome = (
    SubCode.ZOOM_SDK_CREDENTIALS_MISSING,
    "the Zoom SDK app's client id or secret is empty",
)
JOIN_REFUSED: Outcome = (SubCode.MEETING_JOIN_REFUSED, "the meeting refused to let the bot in")


class Outcomes:
    """The SDK's codes, looked up by the member the SDK hands over (or its integer)."""

    def __init__(self, sdk: ModuleType) -> None:
        error, auth, fail, end = (
            sdk.SDKError,
            sdk.AuthResult,
            sdk.MeetingFailCode,
            sdk.MeetingEndReason,
        )
        self.success = error.SDKERR_SUCCESS
        self.unauthenticated = error.SDKERR_UNAUTHENTICATION
        self.auth_success = auth.AUTHRET_SUCCESS
        self._sdk_auth: dict[Any, Outcome] = {
            error.SDKERR_INVALID_PARAMETER: CREDENTIALS_MISSING,
            error.SDKERR_INTERNAL_ERROR: (
                SubCode.ZOOM_INVALID_SIGNATURE,
                "the Zoom SDK refused the bot's JWT before sending it",
            ),
        }
        self._auth: dict[Any, Outcome] = {
            auth.AUTHRET_KEYORSECRETEMPTY: CREDENTIALS_MISSING,
            auth.AUTHRET_KEYORSECRETWRONG: AUTH_REFUSED,
            auth.AUTHRET_JWTTOKENWRONG: AUTH_REFUSED,
            auth.AUTHRET_UNKNOWN: AUTH_UNAVAILABLE,
            auth.AUTHRET_NETWORKISSUE: AUTH_UNAVAILABLE,
            auth.AUTHRET_OVERTIME: AUTH_UNAVAILABLE,
            auth.AUTHRET_SERVICE_BUSY: AUTH_UNAVAILABLE,
        }
        self._join_failed: dict[int, Outcome] = {
            fail.MEETING_FAIL_PASSWORD_ERR.value: (
                SubCode.MEETING_PASSWORD_INCORRECT,
                "the meeting refused the bot's password",
            ),
            fail.MEETING_FAIL_MEETING_NOT_EXIST.value: (
                SubCode.MEETING_NOT_FOUND,
                "the meeting does not exist",
            ),
            fail.MEETING_FAIL_MEETING_NOT_START.value: (
                SubCode.MEETING_NOT_STARTED,
                "the meeting has not started",
            ),
            fail.CONF_FAIL_REMOVED_BY_HOST.value: (
                SubCode.BOT_KICKED_FROM_CALL,
                "the host removed the bot from the meeting",
            ),
        }
        self._kicked_end = end.EndMeetingReason_KickByHost.value
        self._kicked_fail = fail.CONF_FAIL_REMOVED_BY_HOST.value

    def sdk_auth(self, result: Any) -> JoinError:
        """`SDKAuth` returned something other than success: it checked the token locally."""
        return JoinError(*self._sdk_auth.get(result, AUTH_REFUSED))

    def auth(self, result: Any) -> JoinError:
        """`onAuthenticationReturn` said anything but success."""
        return JoinError(*self._auth.get(result, AUTH_NOT_ALLOWED))

    def join_call(self, result: Any) -> JoinError:
        """`Join` itself returned an error: it never got as far as the meeting."""
        if result == self.unauthenticated:
            return JoinError(*AUTH_UNAVAILABLE)
        return JoinError(SubCode.MEETING_JOIN_REFUSED, "the Zoom SDK would not start the join")

    def join_failed(self, fail_code: int) -> JoinError:
        """The meeting status went to FAILED before the bot was in."""
        return JoinError(*self._join_failed.get(fail_code, JOIN_REFUSED))

    def ended(self, end_reason: int) -> SubCode:
        """The status went to ENDED while the bot was in the meeting."""
        if end_reason == self._kicked_end:
            return SubCode.BOT_KICKED_FROM_CALL
        return SubCode.CALL_ENDED_BY_HOST

    def dropped(self, fail_code: int) -> SubCode:
        """The status went to FAILED while the bot was in the meeting."""
        if fail_code == self._kicked_fail:
            return SubCode.BOT_KICKED_FROM_CALL
        return SubCode.MEETING_CONNECTION_LOST
