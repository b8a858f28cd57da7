"""`AudioEnvelope` gives byte for byte the JSON the wire models give, whatever the ids hold."""

import base64

import pytest

from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    AudioData,
    AudioEnvelope,
    AudioMessage,
    AudioMixedRawMessage,
    AudioMixedRawPayload,
    AudioSeparateRawMessage,
    AudioSeparateRawPayload,
    MixedAudioData,
    Participant,
    Timestamp,
)

HOSTILE_TEXT = [
    "Alice",
    "",
    '"buffer":"","timestamp":{"relative":0,"absolute":"1970-01-01T00:00:00.000000Z"}',
    'quote " backslash \\ slash / newline \n tab \t',
    "Zoë 李 🎙️ \u2028 \u0001",
]

STARTED = 1_764_000_000.25
MOMENTS = [STARTED, STARTED + 0.02, STARTED + 1e-7, STARTED + 3599.999999, STARTED - 0.5]


def _ref(kind: str, text: str) -> ObjectRef:
    return ObjectRef(id=f"{kind}-{text[:8]}", metadata={"note": text, text[:60] or "empty": "x"})


def _separate(text: str, buffer: str, timestamp: Timestamp) -> AudioSeparateRawMessage:
    return AudioSeparateRawMessage(
        data=AudioSeparateRawPayload(
            data=AudioData(
                buffer=buffer,
                timestamp=timestamp,
                participant=Participant(
                    id=7, name=text, is_host=True, platform="desktop", extra_data={"guid": text}
                ),
            ),
            realtime_endpoint=_ref("endpoint", text),
            audio_separate=_ref("audio", text),
            recording=_ref("recording", text),
            bot=_ref("bot", text),
        )
    )


def _mixed(text: str, buffer: str, timestamp: Timestamp) -> AudioMixedRawMessage:
    return AudioMixedRawMessage(
        data=AudioMixedRawPayload(
            data=MixedAudioData(buffer=buffer, timestamp=timestamp),
            realtime_endpoint=_ref("endpoint", text),
            audio_mixed=_ref("audio", text),
            recording=_ref("recording", text),
            bot=_ref("bot", text),
        )
    )


@pytest.mark.parametrize("build", [_separate, _mixed], ids=["separate", "mixed"])
@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_envelope_matches_the_models_byte_for_byte(build, text: str) -> None:
    envelope = AudioEnvelope(build(text, "", Timestamp.at(STARTED, STARTED)))
    for index, moment in enumerate(MOMENTS):
        pcm = bytes(range(256))[: 2 * (index * 37 % 120)]
        buffer = base64.b64encode(pcm)
        timestamp = Timestamp.at(moment, STARTED)
        expected: AudioMessage = build(text, buffer.decode(), timestamp)
        assert envelope.encode(buffer, timestamp) == expected.model_dump_json().encode()


def test_envelope_made_from_any_message_of_the_stream() -> None:
    """The message it is made from may carry a real buffer: only its fixed parts are kept."""
    first = _separate("Bob", base64.b64encode(b"\x01\x02").decode(), Timestamp.at(5.0, 1.0))
    envelope = AudioEnvelope(first)
    later = _separate("Bob", "AAAA", Timestamp.at(9.5, 1.0))
    assert envelope.encode(b"AAAA", Timestamp.at(9.5, 1.0)) == later.model_dump_json().encode()
