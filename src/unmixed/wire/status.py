"""Bot status codes and the sub_codes unmixed reports (docs/bots.md, "Statuses").

Clients treat both as open sets, and so does the store: these names exist so the
code never spells a status twice, not to forbid new ones.
"""

from enum import StrEnum


class StatusCode(StrEnum):
    READY = "ready"
    JOINING_CALL = "joining_call"
    IN_WAITING_ROOM = "in_waiting_room"
    IN_CALL_NOT_RECORDING = "in_call_not_recording"
    RECORDING_PERMISSION_ALLOWED = "recording_permission_allowed"
    RECORDING_PERMISSION_DENIED = "recording_permission_denied"
    IN_CALL_RECORDING = "in_call_recording"
    RECORDING_DONE = "recording_done"
    CALL_ENDED = "call_ended"
    DONE = "done"
    FATAL = "fatal"


FINAL_CODES = frozenset({StatusCode.DONE, StatusCode.FATAL})
"""After one of these, nothing more happens to a bot."""


class SubCode(StrEnum):
    MEETING_NOT_FOUND = "meeting_not_found"
    MEETING_UNREACHABLE = "meeting_unreachable"
    MEETING_PASSWORD_INCORRECT = "meeting_password_incorrect"
    MEETING_JOIN_REFUSED = "meeting_join_refused"
    MEETING_ADDRESS_REFUSED = "meeting_address_refused"
    MEETING_CONNECTION_LOST = "meeting_connection_lost"
    PLATFORM_NOT_SUPPORTED = "platform_not_supported"
    BOT_KICKED_FROM_CALL = "bot_kicked_from_call"
    BOT_PROCESS_LOST = "bot_process_lost"
    BOT_ERRORED = "bot_errored"
    TIMEOUT_EXCEEDED_EVERYONE_LEFT = "timeout_exceeded_everyone_left"
    TIMEOUT_EXCEEDED_NOONE_JOINED = "timeout_exceeded_noone_joined"
    TIMEOUT_EXCEEDED_WAITING_ROOM = "timeout_exceeded_waiting_room"
    TIMEOUT_EXCEEDED_IN_CALL_NOT_RECORDING = "timeout_exceeded_in_call_not_recording"
    TIMEOUT_EXCEEDED_RECORDING_PERMISSION_DENIED = "timeout_exceeded_recording_permission_denied"
    TIMEOUT_EXCEEDED_SILENCE_DETECTED = "timeout_exceeded_silence_detected"
    TIMEOUT_EXCEEDED_ONLY_BOTS_BY_NAME = (
        "timeout_exceeded_only_bots_detected_using_participant_names"
    )
    TIMEOUT_EXCEEDED_ONLY_BOTS_BY_EVENTS = (
        "timeout_exceeded_only_bots_detected_using_participant_events"
    )
    MEETING_NOT_STARTED = "meeting_not_started"
    ZOOM_SDK_CREDENTIALS_MISSING = "zoom_sdk_credentials_missing"
    ZOOM_INVALID_SIGNATURE = "zoom_invalid_signature"
    ZOOM_AUTH_FAILED = "zoom_auth_failed"
    ZOOM_JOIN_TIMEOUT = "zoom_join_timeout"
    ZOOM_SDK_CRASHED = "zoom_sdk_crashed"
    ZOOM_RECORDING_PERMISSION_DENIED = "zoom_recording_permission_denied"
    ZOOM_RECORDING_PERMISSION_TIMEOUT = "zoom_recording_permission_timeout"
    ZOOM_HOST_CLIENT_CANNOT_GRANT = "zoom_host_client_cannot_grant"
    BOT_RECEIVED_LEAVE_CALL = "bot_received_leave_call"
    CALL_ENDED_BY_HOST = "call_ended_by_host"
    # Recall's names for what the browser bots meet (docs.recall.ai/docs/sub-codes).
    BOT_KICKED_FROM_WAITING_ROOM = "bot_kicked_from_waiting_room"
    MEETING_ENDED = "meeting_ended"
    GOOGLE_MEET_BOT_BLOCKED = "google_meet_bot_blocked"
    MICROSOFT_TEAMS_SIGN_IN_CREDENTIALS_MISSING = "microsoft_teams_sign_in_credentials_missing"
