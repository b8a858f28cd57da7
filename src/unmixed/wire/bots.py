"""The bot API's request and response bodies (docs/bots.md)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, field_validator, model_validator

from unmixed.egress import EgressPolicy, EgressRefused
from unmixed.wire.common import Metadata, MetadataPairs, StorableText, UtcDateTime, WireModel
from unmixed.wire.meeting_url import MeetingUrl, MeetingUrlError, parse_meeting_url
from unmixed.wire.realtime import (
    AUDIO_MIXED_RAW_DATA,
    AUDIO_SEPARATE_RAW_DATA,
    PARTICIPANT_EVENTS,
    TRANSCRIPT_EVENTS,
)

URL_MAX_LENGTH = 2048
MAX_REALTIME_ENDPOINTS = 16
MAX_EVENTS_PER_ENDPOINT = 16
MAX_TIMEOUT_SECONDS = 30 * 24 * 3600
"""The longest `automatic_leave` timeout: 30 days, in effect "never"; more is refused."""
JOIN_AT_HORIZON = timedelta(days=366)
"""How far ahead a bot may be scheduled."""

Url = Annotated[str, Field(min_length=1, max_length=URL_MAX_LENGTH), StorableText]
BotName = Annotated[str, Field(min_length=1, max_length=100), StorableText]
EventName = Annotated[str, Field(min_length=1, max_length=64), StorableText]
Seconds = Annotated[float, Field(ge=0, le=MAX_TIMEOUT_SECONDS)]

SUPPORTED_EVENTS: dict[str, str] = {
    AUDIO_SEPARATE_RAW_DATA: "audio_separate_raw",
    AUDIO_MIXED_RAW_DATA: "audio_mixed_raw",
    **dict.fromkeys(PARTICIPANT_EVENTS, "participant_events"),
    **dict.fromkeys(TRANSCRIPT_EVENTS, "transcript"),
}
"""Each realtime event unmixed can deliver, and the artifact that must be enabled for it."""

AUDIO_EVENTS = frozenset({AUDIO_SEPARATE_RAW_DATA, AUDIO_MIXED_RAW_DATA})
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


LocalModelName = Literal["tiny.en", "base"]


class RecallStreaming(WireModel):
    """Recall's own provider, taken so that an unchanged Recall request works; here it
    means the local model's default (tiny.en), transcribing as each utterance ends."""

    mode: Literal["prioritize_low_latency", "prioritize_accuracy"] | None = None
    """Either way the text comes about a second after each utterance: a local model
    has no queue of other customers to wait behind."""
    language_code: Literal["en", "en-US", "en-GB", "auto"] | None = None
    """The local models are English ones: `auto` is taken as English, and other languages
    are refused, not guessed at."""


class UnmixedLocal(WireModel):
    model: LocalModelName = "tiny.en"
    """`base` makes fewer errors for about twice the CPU, where its packages are
    installed (`unmixed[transcribe-base]`)."""


class TranscriptProvider(WireModel):
    """Exactly one provider, as in Recall's request."""

    recallai_streaming: RecallStreaming | None = None
    unmixed_local: UnmixedLocal | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "TranscriptProvider":
        chosen = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one provider: recallai_streaming or unmixed_local")
        return self

    @property
    def model(self) -> LocalModelName:
        """The local model that does the work, whichever provider was named."""
        return self.unmixed_local.model if self.unmixed_local is not None else "tiny.en"


class Diarization(WireModel):
    use_separate_streams_when_available: Literal[True] = True
    """Each participant is transcribed from their own stream, always: attribution is
    exact by construction. `false` (transcribe the mix and guess the speaker) is not
    offered."""


class TranscriptConfig(ArtifactConfig):
    """`recording_config.transcript`: live transcripts of each participant's own audio."""

    provider: TranscriptProvider
    diarization: Diarization = Field(default_factory=Diarization)


class RealtimeEndpoint(WireModel):
    id: str | None = None
    type: Literal["websocket", "webhook"]
    """`websocket`: one connection per participant for audio, one for events;
    `webhook`: each (non-audio) event POSTed, signed."""
    url: Url
    events: list[EventName] = Field(min_length=1, max_length=MAX_EVENTS_PER_ENDPOINT)
    metadata: Metadata
    status: Literal["failed"] | None = None
    """Set by unmixed, never by a client: `failed` once a bot gave up on the endpoint
    (its tries ran out, or the egress policy refused it)."""


class RecordingConfig(WireModel):
    audio_separate_raw: ArtifactConfig | None = None
    audio_mixed_raw: ArtifactConfig | None = None
    transcript: TranscriptConfig | None = None
    participant_events: ArtifactConfig | None = Field(
        default_factory=lambda: ArtifactConfig(metadata={})
    )
    """On unless switched off with `null`, as Recall's."""
    realtime_endpoints: list[RealtimeEndpoint] = Field(
        default_factory=list, max_length=MAX_REALTIME_ENDPOINTS
    )


class Timeout(WireModel):
    timeout: Seconds
    activate_after: Seconds | None = None


class SilenceDetection(Timeout):
    """Leave after `timeout` seconds in which nobody is heard; Recall's defaults for
    whichever field is left out."""

    timeout: Seconds = 3600
    activate_after: Seconds | None = 1200


BotNameMatch = Annotated[str, Field(min_length=1, max_length=100), StorableText]


class ParticipantNameDetection(Timeout):
    """Leave when everyone left is named like a bot: case-insensitive substrings of
    their names. No `matches`, no detection."""

    matches: list[BotNameMatch] = Field(default_factory=list, max_length=100)
    timeout: Seconds = 3600
    activate_after: Seconds | None = 1200


class ParticipantEventDetection(Timeout):
    """Leave when nobody left in the call has ever been heard: they are taken for bots."""

    timeout: Seconds = 600
    activate_after: Seconds | None = 1200


class BotDetection(WireModel):
    using_participant_names: ParticipantNameDetection = Field(
        default_factory=ParticipantNameDetection
    )
    using_participant_events: ParticipantEventDetection = Field(
        default_factory=ParticipantEventDetection
    )


class AutomaticLeave(WireModel):
    """When the bot leaves on its own, in seconds; Recall's defaults."""

    waiting_room_timeout: Seconds = 1200
    noone_joined_timeout: Seconds = 1200
    everyone_left_timeout: Seconds | Timeout = 2
    in_call_not_recording_timeout: Seconds = 3600
    recording_permission_denied_timeout: Seconds = 30
    silence_detection: SilenceDetection = Field(default_factory=lambda: SilenceDetection())
    bot_detection: BotDetection = Field(default_factory=BotDetection)

    def everyone_left(self) -> Timeout:
        """`everyone_left_timeout` in its object form, whichever form the client sent."""
        if isinstance(self.everyone_left_timeout, Timeout):
            return self.everyone_left_timeout
        return Timeout(timeout=self.everyone_left_timeout)


Token = Annotated[str, Field(min_length=1, max_length=4096), StorableText]


class ZoomOptions(WireModel):
    """Recall's `zoom` object: tokens some Zoom meetings need. They are secrets: kept
    for the bot, never shown back or logged."""

    obf_token: Token | None = None
    """An on-behalf-of token, for meetings outside the SDK app's own account."""
    zak_token: Token | None = None
    """A user's ZAK, to join as that user (meetings that require sign-in)."""
    join_token_local_recording: Token | None = None
    """Lets the bot record without asking the host."""


def _within_horizon(join_at: datetime) -> datetime:
    try:
        join_at = join_at.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("is not a moment that exists in UTC") from error
    if join_at - datetime.now(UTC) > JOIN_AT_HORIZON:
        raise ValueError(f"may be at most {JOIN_AT_HORIZON.days} days ahead")
    return join_at


JoinAt = Annotated[AwareDatetime, AfterValidator(_within_horizon)]
"""When a bot joins, in UTC: at most `JOIN_AT_HORIZON` ahead."""


class BotCreate(WireModel):
    meeting_url: Url
    bot_name: BotName = "Meeting Notetaker"
    metadata: Metadata
    recording_config: RecordingConfig = Field(default_factory=RecordingConfig)
    automatic_leave: AutomaticLeave = Field(default_factory=AutomaticLeave)
    join_at: JoinAt | None = None
    zoom: ZoomOptions | None = None

    def parsed_meeting_url(self) -> MeetingUrl:
        """The meeting this bot is for, or a `FieldError` that names `meeting_url`."""
        try:
            return parse_meeting_url(self.meeting_url)
        except MeetingUrlError as error:
            raise FieldError("meeting_url", str(error)) from error

    def check_realtime_endpoints(self, egress: EgressPolicy) -> None:
        """Refuse endpoints that could never receive what they ask for, or that the
        egress policy forbids already by their address."""
        config = self.recording_config
        for index, endpoint in enumerate(config.realtime_endpoints):
            where = f"recording_config.realtime_endpoints[{index}]"
            try:
                egress.check_url(endpoint.url)
            except EgressRefused as error:
                raise FieldError(f"{where}.url", str(error)) from error
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
            scheme = endpoint.url.lower().partition("://")[0]
            if endpoint.type == "webhook":
                if AUDIO_EVENTS.intersection(endpoint.events):
                    raise FieldError(
                        f"{where}.type", "audio is streamed over websockets: use type websocket"
                    )
                if scheme not in ("http", "https"):
                    raise FieldError(f"{where}.url", "a webhook endpoint is an http(s):// URL")
            elif scheme not in ("ws", "wss"):
                raise FieldError(f"{where}.url", "a websocket endpoint is a ws:// or wss:// URL")


class BotUpdate(WireModel):
    """`PATCH /api/v1/bot/{id}/`: any of `BotCreate`'s fields, checked as at creation;
    those left out keep their value. `join_at: null` makes a scheduled bot join now."""

    meeting_url: Url | None = None
    bot_name: BotName | None = None
    metadata: MetadataPairs | None = None
    recording_config: RecordingConfig | None = None
    automatic_leave: AutomaticLeave | None = None
    join_at: JoinAt | None = None
    zoom: ZoomOptions | None = None

    @field_validator("meeting_url", "bot_name", "metadata", "recording_config", "automatic_leave")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """Optional here only so it can be left out: a bot always has these."""
        if value is None:
            raise ValueError("may be changed, not removed")
        return value

    def applied_to(self, request: BotCreate) -> BotCreate:
        """`request` with the fields this update sets replaced."""
        return request.model_copy(
            update={name: getattr(self, name) for name in self.model_fields_set}
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


class TranscriptDownload(WireModel):
    download_url: str
    """The transcript so far as JSON (`GET`, with the API key): each final utterance's
    participant and words, in the order they were said."""
    provider_data_download_url: None = None


class TranscriptArtifact(WireModel):
    """`media_shortcuts.transcript`: the recording's transcript, as Recall shows it."""

    id: str
    created_at: UtcDateTime
    status: RecordingStatus
    """`processing` while the bot records, then `done` (or `failed`, as its recording)."""
    metadata: Metadata
    data: TranscriptDownload
    diarization: Diarization
    provider: TranscriptProvider


class MediaShortcuts(WireModel):
    transcript: TranscriptArtifact | None = None


class Recording(WireModel):
    id: str
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    completed_at: UtcDateTime | None
    status: RecordingStatus
    media_shortcuts: MediaShortcuts = Field(default_factory=MediaShortcuts)


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
