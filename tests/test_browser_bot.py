"""The browser bot for real: Chromium joins the testbed's web meeting page and streams
each participant, with the same checks as the native path; and in the AudioBridge room
(one mix, like Teams) it splits the mix by who is talking, labelled `attributed`."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio import assert_continuous, dominant_frequency, tone_level_db
from tests.meeting import Attended, attend
from unmixed.api.server import ApiServer
from unmixed.chromium import FAKE_MICROPHONE_RATE, write_microphone
from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver, ParticipantAudio
from unmixed.receiver.tracks import ConnectionRecord
from unmixed.testbed.server import JanusServer
from unmixed.wire.realtime import SAMPLE_RATE
from unmixed.wire.status import StatusCode

TONES = {"Alice": 440.0, "Bob": 660.0, "Carol": 880.0, "Dave": 550.0}
ALICE_MUTED = (3.0, 5.0)
DAVE_JOINS = 3.0

WebMeeting = tuple[Attended, AudioReceiver]


async def attend_through_browser(
    janus: JanusServer, api: ApiServer, api_key: str, scenario: dict[str, Any]
) -> WebMeeting:
    """The bot joins the scenario's web meeting page and leaves a second after everyone."""
    async with AudioReceiver() as receiver, AsyncUnmixedClient(api.url, api_key) as client:
        attended = await attend(
            client,
            janus.url,
            [receiver],
            scenario,
            through_browser=True,
            automatic_leave={"everyone_left_timeout": 1},
        )
    return attended, receiver


@pytest.fixture(scope="module")
async def web_meeting(janus: JanusServer, api: ApiServer, api_key: str) -> WebMeeting:
    """Alice and Bob (native), Carol (a browser client), Dave joining late; Alice mutes."""
    scenario = {
        "participants": [
            {
                "name": "Alice",
                "tone_hz": TONES["Alice"],
                "is_host": True,
                "leave_at": 8,
                "muted": [ALICE_MUTED],
            },
            {"name": "Bob", "tone_hz": TONES["Bob"], "leave_at": 8},
            {"name": "Carol", "tone_hz": TONES["Carol"], "leave_at": 8, "client": "browser"},
            {"name": "Dave", "tone_hz": TONES["Dave"], "join_at": DAVE_JOINS, "leave_at": 8},
        ],
        "duration": 10,
    }
    return await attend_through_browser(janus, api, api_key, scenario)


def connection_audio(participant: ParticipantAudio, connection: ConnectionRecord) -> np.ndarray:
    start, end = connection.span()
    return participant.between(start, end)


async def test_each_connection_carries_only_its_participants_tone(web_meeting: WebMeeting) -> None:
    attended, receiver = web_meeting
    assert attended.bot.status_changes[-1].code == StatusCode.DONE
    assert receiver.invalid_messages == []
    assert {p.name for p in receiver.participants.values()} == set(TONES)
    for name, hz in TONES.items():
        participant = receiver.participant(name)
        assert participant.extra_data["separation"] == "per_participant"
        for connection in participant.connections:
            audio = connection_audio(participant, connection)[SAMPLE_RATE // 4 :]
            assert len(audio) > SAMPLE_RATE, f"{name}: only {len(audio) / SAMPLE_RATE:.1f} s"
            assert abs(dominant_frequency(audio) - hz) < 3, f"{name} is not at {hz} Hz"
            own = tone_level_db(audio, hz)
            for other, other_hz in TONES.items():
                if other != name:
                    assert tone_level_db(audio, other_hz) < own - 35, f"{other} leaks into {name}"


async def test_connections_open_and_close_with_the_mute_state(web_meeting: WebMeeting) -> None:
    attended, receiver = web_meeting
    alice = receiver.participant("Alice")
    assert len(alice.connections) == 2, "Alice's mute closes her connection, her unmute opens one"
    first, second = alice.connections
    assert first.closed_at is not None
    assert first.close_code == 1000
    mute_clicked, unmute_clicked = (
        attended.meeting.participants["Alice"].log.mutes[0],
        (attended.meeting.participants["Alice"].log.unmutes[0]),
    )
    assert mute_clicked < first.closed_at < mute_clicked + 1.5
    assert unmute_clicked < second.opened_at < unmute_clicked + 1.5
    for name in ("Bob", "Carol", "Dave"):
        assert len(receiver.participant(name).connections) == 1, f"{name} never muted"


async def test_a_late_joiner_gets_a_new_id_and_timelines_are_continuous(
    web_meeting: WebMeeting,
) -> None:
    _, receiver = web_meeting
    ids = {name: receiver.participant(name).id for name in TONES}
    assert sorted(ids.values()) == [1, 2, 3, 4]
    assert ids["Dave"] == 4, "the late joiner is numbered after everyone already there"
    dave_start, _ = receiver.participant("Dave").connections[0].span()
    assert dave_start > DAVE_JOINS - 0.5
    for participant in receiver.participants.values():
        for connection in participant.connections:
            assert_continuous(connection)


TALKS = {"Erin": (440.0, [(0.5, 2.5), (5.5, 7.5)]), "Finn": (660.0, [(3.0, 5.0)])}
"""Who talks when in the AudioBridge room: one speaker at a time, with pauses."""


def gated_tone(folder: Path, name: str, hz: float, talks: list[tuple[float, float]]) -> Path:
    """A WAV of `hz` during `talks` and silence otherwise, 9 s, played from the start."""
    moments = np.arange(9 * FAKE_MICROPHONE_RATE) / FAKE_MICROPHONE_RATE
    on = np.zeros_like(moments, dtype=bool)
    for start, end in talks:
        on |= (moments >= start) & (moments < end)
    samples = (0.3 * 32767 * np.sin(2 * np.pi * hz * moments) * on).astype(np.int16)
    return write_microphone(folder / f"{name}.wav", samples)


def purity(audio: np.ndarray, hz: float) -> float:
    """The share of the audio's power within 30 Hz of `hz`."""
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64) * np.hanning(len(audio)))) ** 2
    frequencies = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    total = spectrum.sum()
    return float(spectrum[np.abs(frequencies - hz) <= 30].sum() / total) if total else 0.0


async def test_the_mixed_room_is_split_by_who_is_talking(
    janus: JanusServer, api: ApiServer, api_key: str, tmp_path: Path
) -> None:
    scenario = {
        "room": "audiobridge",
        "participants": [
            {"name": name, "audio": str(gated_tone(tmp_path, name, hz, talks)), "leave_at": 8.5}
            for name, (hz, talks) in TALKS.items()
        ],
        "duration": 10,
    }
    attended, receiver = await attend_through_browser(janus, api, api_key, scenario)
    assert attended.bot.status_changes[-1].code == StatusCode.DONE
    for name, (hz, _) in TALKS.items():
        participant = receiver.participant(name)
        assert participant.extra_data["separation"] == "attributed"
        heard = participant.timeline()
        voiced = heard[np.abs(heard) > 0]
        assert len(voiced) > 1.5 * SAMPLE_RATE, f"{name}: too little attributed to them"
        share = purity(voiced, hz)
        print(f"attributed purity of {name}: {share:.3f}")
        assert share > 0.9, f"{name}'s attributed stream is only {share:.2f} their own voice"
        other_hz = next(h for n, (h, _) in TALKS.items() if n != name)
        assert tone_level_db(voiced, other_hz) < tone_level_db(voiced, hz) - 15
