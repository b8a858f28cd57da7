"""The realtime websocket messages: `audio_separate_raw.data` (docs/realtime.md).

Recall's sample receiver parses these with strict zod schemas, so every field
here is typed as strictly as that receiver expects: integer participant ids,
boolean `is_host`, a string `absolute`, `{id, metadata}` on every reference.
"""

import json
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt

from unmixed.wire.common import ObjectRef, WireModel, iso_utc

AUDIO_SEPARATE_RAW_DATA: Final = "audio_separate_raw.data"
AUDIO_MIXED_RAW_DATA: Final = "audio_mixed_raw.data"

ParticipantEventName = Literal[
    "participant_events.join",
    "participant_events.leave",
    "participant_events.update",
    "participant_events.speech_on",
    "participant_events.speech_off",
]
PARTICIPANT_EVENTS: Final[tuple[ParticipantEventName, ...]] = (
    "participant_events.join",
    "participant_events.leave",
    "participant_events.update",
    "participant_events.speech_on",
    "participant_events.speech_off",
)

TranscriptEventName = Literal["transcript.data", "transcript.partial_data"]
TRANSCRIPT_DATA: Final = "transcript.data"
TRANSCRIPT_PARTIAL_DATA: Final = "transcript.partial_data"
TRANSCRIPT_EVENTS: Final[tuple[TranscriptEventName, ...]] = (
    TRANSCRIPT_DATA,
    TRANSCRIPT_PARTIAL_DATA,
)

SAMPLE_RATE = 16_000
"""Every buffer is mono signed 16-bit little-endian PCM at this rate."""

BYTES_PER_SAMPLE = 2

ParticipantPlatform = Literal["desktop", "dial-in", "unknown"]

Separation = Literal["per_participant", "attributed"]
"""How a participant's audio was obtained: their own stream, or labelled from a mix."""


class Timestamp(WireModel):
    """When the buffer's first sample was captured."""

    relative: StrictFloat | StrictInt = Field(
        description="Seconds since the bot entered `in_call_recording`."
    )
    absolute: str = Field(description="ISO 8601 UTC, e.g. 2026-11-24T10:00:12.340000Z.")

    @classmethod
    def at(cls, captured_at: float, recording_started_at: float) -> "Timestamp":
        """The timestamp of a sample captured at Unix time `captured_at`."""
        return cls(
            relative=round(captured_at - recording_started_at, 6),
            absolute=iso_utc(datetime.fromtimestamp(captured_at, UTC)),
        )


class Participant(WireModel):
    id: StrictInt = Field(description="Small, stable per meeting: 1, 2, 3 in order of appearance.")
    name: str | None
    is_host: StrictBool
    platform: ParticipantPlatform | None
    extra_data: dict[str, Any] = Field(default_factory=dict)


class AudioData(WireModel):
    buffer: str = Field(description="Base64 of mono S16LE PCM at 16 kHz.")
    timestamp: Timestamp
    participant: Participant


class AudioSeparateRawPayload(WireModel):
    data: AudioData
    realtime_endpoint: ObjectRef
    audio_separate: ObjectRef
    recording: ObjectRef
    bot: ObjectRef


class AudioSeparateRawMessage(WireModel):
    event: Literal["audio_separate_raw.data"] = AUDIO_SEPARATE_RAW_DATA
    data: AudioSeparateRawPayload


class MixedAudioData(WireModel):
    buffer: str = Field(description="Base64 of mono S16LE PCM at 16 kHz: everyone, summed.")
    timestamp: Timestamp


class AudioMixedRawPayload(WireModel):
    data: MixedAudioData
    realtime_endpoint: ObjectRef
    audio_mixed: ObjectRef
    recording: ObjectRef
    bot: ObjectRef


class AudioMixedRawMessage(WireModel):
    """The whole meeting in one stream, on the same timeline as each participant's."""

    event: Literal["audio_mixed_raw.data"] = AUDIO_MIXED_RAW_DATA
    data: AudioMixedRawPayload


class ParticipantEventData(WireModel):
    participant: Participant
    timestamp: Timestamp
    data: None = None


class ParticipantEventPayload(WireModel):
    data: ParticipantEventData
    realtime_endpoint: ObjectRef
    participant_events: ObjectRef
    recording: ObjectRef
    bot: ObjectRef


class ParticipantEventMessage(WireModel):
    """Someone joined, left, changed, or started or stopped speaking; one connection
    per endpoint carries them all, beside the per-participant audio connections."""

    event: ParticipantEventName
    data: ParticipantEventPayload


class TranscriptWord(WireModel):
    text: str
    start_timestamp: Timestamp
    end_timestamp: Timestamp


class TranscriptEntry(WireModel):
    """One utterance of one participant, as a transcript download lists them."""

    words: list[TranscriptWord]
    participant: Participant


class TranscriptData(TranscriptEntry):
    """One utterance of one participant (final), or what they have said of it so far
    (partial): the words, dated on the same timeline as their audio."""

    language_code: str = "en"


class TranscriptPayload(WireModel):
    data: TranscriptData
    realtime_endpoint: ObjectRef
    transcript: ObjectRef
    recording: ObjectRef
    bot: ObjectRef


class TranscriptMessage(WireModel):
    """`transcript.data` once an utterance ended; `transcript.partial_data` while it goes
    on, each replacing the one before, until its final."""

    event: TranscriptEventName
    data: TranscriptPayload


RealtimeMessage = (
    AudioSeparateRawMessage | AudioMixedRawMessage | ParticipantEventMessage | TranscriptMessage
)

AudioMessage = AudioSeparateRawMessage | AudioMixedRawMessage


class AudioEnvelope:
    """One stream's audio messages, serialised from the models once and filled in per message.

    Every message of a stream repeats the same ids, metadata and participant;
    only the buffer and the timestamp change. Building and dumping the models
    for each 40 ms buffer was a large part of the bot's cost, so the message is
    dumped once, from the models, and cut around those two fields. The result
    is byte for byte what `model_dump_json` gives (tested).
    """

    def __init__(self, message: AudioMessage) -> None:
        """`message`: any message of the stream; its own buffer and timestamp are replaced."""
        audio = message.data.data
        text = message.model_dump_json()
        variable = (
            f'"buffer":{json.dumps(audio.buffer)},"timestamp":{audio.timestamp.model_dump_json()}'
        )
        # The buffer is the first field of the innermost object, and all that precedes
        # it is fixed field names: its first occurrence is the right one, whatever a
        # participant's name or a metadata value contains.
        head, found, tail = text.partition(variable)
        if not found:
            raise ValueError("the message's buffer is not followed by its timestamp")
        self._head = f'{head}"buffer":"'.encode()
        self._tail = tail.encode()

    def encode(self, buffer: bytes, timestamp: Timestamp) -> bytes:
        """The message, as UTF-8 JSON, for base64 `buffer` captured at `timestamp`."""
        stamp = timestamp.model_dump_json().encode()
        return b"".join((self._head, buffer, b'","timestamp":', stamp, self._tail))
