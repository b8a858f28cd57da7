"""A scripted Zoom meeting through the real Zoom adapter (on the fake SDK), the real
runner, media and delivery, to a real websocket receiver.

The fake plays the meeting in real time on its own threads, as the SDK would:
callbacks from inside the adapter's main-context iteration on the SDK thread,
raw audio (10 ms, 32 kHz) from a thread the adapter does not own.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.audio import assert_continuous, dominant_frequency
from tests.fake_zoom_sdk import (
    BOT_ID,
    EndMeeting,
    FakeZoomSdk,
    GrantRecording,
    MakeHost,
    Mute,
    Script,
    User,
)
from tests.inprocess import ZOOM_MEETING, attend_in_process
from unmixed.platforms.zoom import ZoomAdapter, ZoomCredentials
from unmixed.receiver import AudioReceiver
from unmixed.wire.bots import Bot
from unmixed.wire.meeting_url import parse_meeting_url
from unmixed.wire.realtime import SAMPLE_RATE

TONES = {"Alice": 440.0, "Bob": 660.0, "Carol": 880.0}
CREDENTIALS = ZoomCredentials("client-id", "client-secret-0123456789abcdef0123")


@pytest.fixture
async def receiver() -> AsyncIterator[AudioReceiver]:
    async with AudioReceiver() as server:
        yield server


def codes(bot: Bot) -> list[tuple[str, str | None]]:
    return [(change.code, change.sub_code) for change in bot.status_changes]


async def attend(
    script: Script, receiver: AudioReceiver, tmp_path: Path, **request: Any
) -> tuple[Bot, FakeZoomSdk]:
    sdk = FakeZoomSdk(script)
    adapter = ZoomAdapter(
        parse_meeting_url(ZOOM_MEETING),
        None,
        CREDENTIALS,
        sdk=sdk,
        main_context=sdk.main_context,
    )
    async with asyncio.timeout(30):
        bot = await attend_in_process(adapter, [receiver], tmp_path, **request)
    assert sdk.violations == []
    assert sdk.cleaned_up
    return bot, sdk


def meeting(**script: Any) -> Script:
    """Alice (host, speaking), Bob (muted until 1.0 s, muted again at 2.5 s), Carol
    (joins at 1.5 s, leaves at 3.5 s); Bob becomes host at 2.0 s."""
    return Script(
        users=[
            User(101, "Alice", TONES["Alice"], is_host=True),
            User(102, "Bob", TONES["Bob"], muted=True),
            User(103, "Carol", TONES["Carol"], joins_at=1.5, leaves_at=3.5),
        ],
        **{
            "actions": [Mute(1.0, 102, False), MakeHost(2.0, 102), Mute(2.5, 102, True)],
            **script,
        },
    )


@pytest.mark.timeout(60)
async def test_a_zoom_meeting_streams_each_participant_on_their_own_connections(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script = meeting(waiting_room=0.3)
    script.actions.append(EndMeeting(4.5))
    bot, sdk = await attend(script, receiver, tmp_path)
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_waiting_room", None),
        ("in_call_not_recording", None),
        ("recording_permission_allowed", None),
        ("in_call_recording", None),
        ("call_ended", "call_ended_by_host"),
        ("done", None),
    ]
    assert receiver.invalid_messages == []
    ids = {p.name: p.id for p in receiver.participants.values()}
    assert ids == {"Alice": 1, "Bob": 2, "Carol": 3}
    for name, hz in TONES.items():
        participant = receiver.participant(name)
        assert len(participant.connections) == 1, name
        (connection,) = participant.connections
        assert connection.closed_at is not None
        assert_continuous(connection)
        audio = participant.between(*connection.span())
        assert len(audio) > 1.0 * SAMPLE_RATE, name
        assert abs(dominant_frequency(audio) - hz) < 2, f"{name} is not at {hz} Hz"
        extra = participant.extra_data
        user_id = {"Alice": "101", "Bob": "102", "Carol": "103"}[name]
        assert extra["platform_id"] == user_id
        assert extra["conf_user_id"] == user_id
        assert extra["user_guid"] == f"guid-{user_id}"
        assert extra["separation"] == "per_participant"
    assert receiver.participant("Alice").is_host
    assert sdk.meeting.frames_sent[BOT_ID] > 0, "the bot's own audio must have been offered"


@pytest.mark.timeout(60)
async def test_connections_follow_mute_state_and_presence(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script = meeting()
    script.actions.append(EndMeeting(4.5))
    await attend(script, receiver, tmp_path)
    bob = receiver.participant("Bob")
    start, end = bob.connections[0].span()
    assert 1.2 < end - start < 1.8, "Bob was unmuted from 1.0 s to 2.5 s"
    bob_start = start
    carol = receiver.participant("Carol")
    start, end = carol.connections[0].span()
    assert 1.7 < end - start < 2.3, "Carol was there from 1.5 s to 3.5 s"
    assert start - bob_start == pytest.approx(0.5, abs=0.1), "Bob unmuted 0.5 s before Carol came"
    alice_start, alice_end = receiver.participant("Alice").connections[0].span()
    assert alice_end - alice_start == pytest.approx(4.5 - 0.3, abs=0.3), "Alice spoke throughout"


@pytest.mark.timeout(60)
async def test_a_refused_recording_permission_streams_nothing_and_times_out(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    bot, sdk = await attend(
        meeting(permission="denied"),
        receiver,
        tmp_path,
        automatic_leave={"recording_permission_denied_timeout": 1.0},
    )
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_call_not_recording", None),
        ("recording_permission_denied", "zoom_recording_permission_denied"),
        ("call_ended", "timeout_exceeded_recording_permission_denied"),
        ("done", None),
    ]
    assert receiver.connections == []
    assert sdk.meeting.frames_sent == {}


@pytest.mark.timeout(60)
async def test_the_bot_removed_by_the_host_ends_kicked(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script = meeting(permission="allowed")
    script.actions.append(EndMeeting(1.2, reason="EndMeetingReason_KickByHost"))
    bot, _ = await attend(script, receiver, tmp_path)
    assert codes(bot)[-2:] == [("call_ended", "bot_kicked_from_call"), ("done", None)]
    assert ("recording_permission_allowed", None) not in codes(bot)
    assert {p.name for p in receiver.participants.values()} == {"Alice", "Bob"}


@pytest.mark.timeout(60)
async def test_everyone_leaving_makes_the_bot_leave_the_meeting(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script = Script(users=[User(101, "Alice", 440.0, is_host=True, leaves_at=1.0)])
    bot, sdk = await attend(
        script, receiver, tmp_path, automatic_leave={"everyone_left_timeout": 0.3}
    )
    assert codes(bot)[-2:] == [("call_ended", "timeout_exceeded_everyone_left"), ("done", None)]
    assert sdk.meeting.left_by_bot
    (connection,) = receiver.participant("Alice").connections
    assert connection.closed_at is not None


@pytest.mark.timeout(60)
async def test_a_wrong_password_ends_fatal_in_our_words(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    bot, _ = await attend(
        Script(users=[], join_failure="MEETING_FAIL_PASSWORD_ERR"), receiver, tmp_path
    )
    last = bot.status_changes[-1]
    assert (last.code, last.sub_code) == ("fatal", "meeting_password_incorrect")
    assert last.message == "the meeting refused the bot's password"


@pytest.mark.timeout(60)
async def test_a_host_who_grants_after_refusing_starts_the_recording(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script = meeting(permission="denied")
    script.actions += [GrantRecording(1.2), EndMeeting(3.0)]
    bot, _ = await attend(script, receiver, tmp_path)
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_call_not_recording", None),
        ("recording_permission_denied", "zoom_recording_permission_denied"),
        ("recording_permission_allowed", None),
        ("in_call_recording", None),
        ("call_ended", "call_ended_by_host"),
        ("done", None),
    ]
    alice = receiver.participant("Alice")
    assert abs(dominant_frequency(alice.between(*alice.connections[0].span())) - 440.0) < 2
