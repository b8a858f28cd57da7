"""The bot API's request and response bodies (DESIGN.md sections 1 and 2)."""

from typing import Literal

from pydantic import AwareDatetime, Field, NonNegativeFloat

from unmixed.wire.common import Metadata, UtcDateTime, WireModel
from unmixed.wire.meeting_url import MeetingUrl, MeetingUrlError, parse_meeting_url
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA

SUPPORTED_EVENTS: dict[str, str] = {AUDIO_SEPARATE_RAW_DATA: "audio_separate_raw"}
"""Each realtime event unmixed can deliver, and the artifact that must be enabled for it."""

AUDIO_EVENTS = frozenset({AUDIO_SEPARATE_RAW_DATA})
"""Events that carry audio and therefore need a websocket endpoint."""


class FieldError(ValueError):
    """A request that is well-formed JSON but asks for something that cannot be done."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class ArtifactConfig(WireModel):
    """An artifact switched on with `{}`; the bot object echoes it with an id."""

    id: str | None = None
    metadata: Metadata


class RealtimeEndpoint(WireModel):
    id: str | None = None
    type: Literal["websocket"]
    url: str
    events: list[str] = Field(min_length=1)
    metadata: Metadata


class RecordingConfig(WireModel):
    audio_separate_raw: ArtifactConfig | None = None
    realtime_endpoints: list[RealtimeEndpoint] = Field(default_factory=list)


class Timeout(WireModel):
    timeout: NonNegativeFloat
    activate_after: NonNegativeFloat | None = None


class AutomaticLeave(WireModel):
    """When the bot leaves on its own, in seconds; Recall's defaults."""

    waiting_room_timeout: NonNegativeFloat = 1200
    noone_joined_timeout: NonNegativeFloat = 1200
    everyone_left_timeout: NonNegativeFloat | Timeout = 2
    in_call_not_recording_timeout: NonNegativeFloat = 3600
    recording_permission_denied_timeout: NonNegativeFloat = 30
    silence_detection: Timeout = Field(
        default_factory=lambda: Timeout(timeout=3600, activate_after=1200)
    )

    def everyone_left(self) -> Timeout:
        """`everyone_left_timeout` in its object form, whichever form the client sent."""
        if isinstance(self.everyone_left_timeout, Timeout):
            return self.everyone_left_timeout
        return Timeout(timeout=self.everyone_left_timeout)


class BotCreate(WireModel):
    meeting_url: str
    bot_name: str = Field(default="Meeting Notetaker", min_length=1, max_length=100)
    metadata: Metadata
    recording_config: RecordingConfig = Field(default_factory=RecordingConfig)
    automatic_leave: AutomaticLeave = Field(default_factory=AutomaticLeave)
    join_at: AwareDatetime | None = None

    def parsed_meeting_url(self) -> MeetingUrl:
        """The meeting this bot is for, or a `FieldError` that names `meeting_url`."""
        try:
            return parse_meeting_url(self.meeting_url)
        except MeetingUrlError as error:
            raise FieldError("meeting_url", str(error)) from error

    def check_realtime_endpoints(self) -> None:
        """Refuse endpoints that could never receive what they ask for."""
        config = self.recording_config
        for index, endpoint in enumerate(config.realtime_endpoints):
            where = f"recording_config.realtime_endpoints[{index}]"
            for event_index, event in enumerate(endpoint.events):
                artifact = SUPPORTED_EVENTS.get(event)
                if artifact is None:
                    known = ", ".join(sorted(SUPPORTED_EVENTS))
                    raise FieldError(
                        f"{where}.events[{event_index}]", f"unknown event {event!r}; known: {known}"
                    )
                if getattr(config, artifact) is None:
                    raise FieldError(
                        f"{where}.events[{event_index}]",
                        f"{event} needs recording_config.{artifact} to be enabled, e.g. {{}}",
                    )
            if AUDIO_EVENTS.intersection(endpoint.events) and not endpoint.url.startswith(
                ("ws://", "wss://")
            ):
                raise FieldError(
                    f"{where}.url", "audio is streamed over websockets: use ws:// or wss://"
                )


class StatusChange(WireModel):
    code: str
    sub_code: str | None = None
    message: str | None = None
    created_at: UtcDateTime


class RecordingStatus(WireModel):
    code: str
    sub_code: str | None = None
    updated_at: UtcDateTime


class Recording(WireModel):
    id: str
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    completed_at: UtcDateTime | None
    status: RecordingStatus


class Bot(WireModel):
    id: str
    meeting_url: MeetingUrl
    bot_name: str
    metadata: Metadata
    recording_config: RecordingConfig
    automatic_leave: AutomaticLeave
    join_at: UtcDateTime | None
    status_changes: list[StatusChange]
    recordings: list[Recording]


class BotPage(WireModel):
    """One page of `GET /api/v1/bot/`, numbered pages as Recall answers them."""

    count: int
    next: str | None
    previous: str | None
    results: list[Bot]


class ApiError(WireModel):
    """Every error the API answers with: a stable code, a sentence, and the field at fault."""

    code: str
    detail: str
    field: str | None = None
