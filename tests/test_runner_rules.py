"""The runner's rules, through a scripted meeting: statuses and their order, ids,
connections following mute state, timelines, every automatic-leave rule, and a
join that can be called off. Real runner, media, delivery and receiver; no Janus."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.audio import assert_continuous, dominant_frequency
from tests.inprocess import attend_in_process
from tests.scripted import (
    End,
    FromThread,
    Join,
    Leave,
    Lobby,
    Mute,
    Permission,
    Rename,
    ScriptedAdapter,
    Silence,
    Speak,
    SpeakerReportingAdapter,
    Speaking,
    Step,
    Unmute,
    UntilRecording,
)
from unmixed.platforms.base import JoinError
from unmixed.receiver import AudioReceiver
from unmixed.wire.bots import Bot
from unmixed.wire.realtime import PARTICIPANT_EVENTS
from unmixed.wire.status import SubCode

QUICK = {"everyone_left_timeout": 0.05, "noone_joined_timeout": 0.2}


@pytest.fixture
async def receiver() -> AsyncIterator[AudioReceiver]:
    async with AudioReceiver() as server:
        yield server


def codes(bot: Bot) -> list[tuple[str, str | None]]:
    return [(change.code, change.sub_code) for change in bot.status_changes]


RECORDED = [
    ("ready", None),
    ("joining_call", None),
    ("in_call_not_recording", None),
    ("in_call_recording", None),
]


async def run(
    receiver: AudioReceiver, tmp_path: Path, call: list[Any], **options: Any
) -> tuple[Bot, ScriptedAdapter]:
    adapter_options = {
        name: options.pop(name)
        for name in ("lobby", "admitted", "join_error", "permission")
        if name in options
    }
    adapter = ScriptedAdapter(call, **adapter_options)
    options.setdefault("automatic_leave", QUICK)
    async with asyncio.timeout(10):
        bot = await attend_in_process(adapter, [receiver], tmp_path, **options)
    return bot, adapter


async def test_three_people_each_on_their_own_connections(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script: list[Step] = [
        Join("a", "Ann", is_host=True),
        Join("b", "Bob", muted=True),
        UntilRecording(),
        Speak("a", 440, 1.0),
        Speak("b", 660, 0.5),  # muted: nothing is sent
        Unmute("b"),
        Speak("b", 660, 1.0),
        Mute("a"),
        Speak("a", 440, 0.5),
        Unmute("a"),
        Speak("a", 440, 1.0),
        Join("c", "Cy"),
        Speak("c", 880, 1.0),
        Leave("a"),
        Leave("b"),
        Leave("c"),
    ]
    bot, adapter = await run(receiver, tmp_path, script)

    assert codes(bot) == [
        *RECORDED,
        ("call_ended", SubCode.TIMEOUT_EXCEEDED_EVERYONE_LEFT),
        ("done", None),
    ]
    assert adapter.left
    people = {audio.name: audio for audio in receiver.participants.values()}
    assert {name: audio.id for name, audio in people.items()} == {"Ann": 1, "Bob": 2, "Cy": 3}
    assert [len(people[name].connections) for name in ("Ann", "Bob", "Cy")] == [2, 1, 1]
    for name, hz in (("Ann", 440), ("Bob", 660), ("Cy", 880)):
        for connection in people[name].connections:
            assert connection.closed_at is not None
            assert_continuous(connection)
            start, end = connection.span()
            audio = people[name].between(start, end)
            assert dominant_frequency(audio[len(audio) // 10 :]) == pytest.approx(hz, abs=5)
    first, second = people["Ann"].connections
    assert second.span()[0] - first.span()[1] == pytest.approx(2.0, abs=0.03), "the mute's gap"
    assert people["Bob"].seconds == pytest.approx(1.0, abs=0.05), "nothing while muted"


async def test_participant_events_arrive_in_order_on_the_audio_timeline(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    endpoint = {"type": "websocket", "url": receiver.url, "events": [*PARTICIPANT_EVENTS]}
    script: list[Step] = [
        Join("a", "Ann"),
        Join("b", "Bob", muted=True),
        UntilRecording(),
        Speak("a", 440, 1.0),
        Silence(1.0),
        Speak("a", 440, 0.5),
        Rename("b", "Bobby"),
        Leave("a"),
        Leave("b"),
    ]
    bot, _ = await run(
        receiver,
        tmp_path,
        script,
        recording_config={"participant_events": {}, "realtime_endpoints": [endpoint]},
    )
    assert codes(bot)[-1] == ("done", None)
    heard = [(e.event.rsplit(".", 1)[1], e.name) for e in receiver.participant_events]
    assert heard == [
        ("join", "Ann"),
        ("join", "Bob"),
        ("speech_on", "Ann"),
        ("speech_off", "Ann"),
        ("speech_on", "Ann"),
        ("update", "Bobby"),
        ("speech_off", "Ann"),
        ("leave", "Ann"),
        ("leave", "Bobby"),
    ]
    onsets = [e.relative for e in receiver.participant_events if e.event.endswith("speech_on")]
    offsets = [e.relative for e in receiver.participant_events if e.event.endswith("speech_off")]
    assert onsets == pytest.approx([0.0, 2.0], abs=0.03), "dated on the audio's own clock"
    assert offsets[0] == pytest.approx(1.0, abs=0.15), "the detector's own hangover, at most"
    assert offsets[1] == pytest.approx(2.5, abs=0.03), "a leave ends speech where the audio ends"
    assert receiver.invalid_messages == []


async def test_speech_comes_from_the_platform_where_it_says_who_speaks(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    endpoint = {"type": "websocket", "url": receiver.url, "events": [*PARTICIPANT_EVENTS]}
    script: list[Step] = [
        Join("a", "Ann"),
        Join("b", "Bob"),
        UntilRecording(),
        Speaking("a"),
        Speak("a", 440, 0.5),
        Speaking("b"),
        Speak("b", 660, 0.5),
        Speaking(None),
        Speak("a", 440, 0.5),  # heard, but the platform says nobody speaks: no event
        Leave("a"),
        Leave("b"),
    ]
    adapter = SpeakerReportingAdapter(script)
    async with asyncio.timeout(10):
        await attend_in_process(
            adapter,
            [receiver],
            tmp_path,
            recording_config={"participant_events": {}, "realtime_endpoints": [endpoint]},
            automatic_leave=QUICK,
        )
    heard = [(e.event.rsplit(".", 1)[1], e.name) for e in receiver.participant_events]
    assert heard == [
        ("join", "Ann"),
        ("join", "Bob"),
        ("speech_on", "Ann"),
        ("speech_off", "Ann"),
        ("speech_on", "Bob"),
        ("speech_off", "Bob"),
        ("leave", "Ann"),
        ("leave", "Bob"),
    ]


async def test_events_from_another_thread_arrive_in_order(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script: list[Any] = [
        Join("a", "Ann"),
        UntilRecording(),
        FromThread((Speak("a", 500, 1.0), Mute("a"), Silence(0.3), Unmute("a"))),
        FromThread((Speak("a", 500, 0.5), Leave("a"))),
    ]
    bot, _ = await run(receiver, tmp_path, script)
    assert codes(bot)[-2] == ("call_ended", SubCode.TIMEOUT_EXCEEDED_EVERYONE_LEFT)
    (ann,) = receiver.participants.values()
    assert len(ann.connections) == 2
    for connection in ann.connections:
        assert_continuous(connection)
    assert ann.seconds == pytest.approx(1.5, abs=0.05)


async def test_a_rename_keeps_the_id(receiver: AudioReceiver, tmp_path: Path) -> None:
    script: list[Step] = [
        Join("a", "Ann"),
        UntilRecording(),
        Speak("a", 500, 0.2),
        Rename("a", "Ann Lee", is_host=True),
        Mute("a"),
        Unmute("a"),
        Speak("a", 500, 0.2),
        Leave("a"),
    ]
    await run(receiver, tmp_path, script)
    messages = [connection.first_message for connection in receiver.connections]
    assert None not in messages
    # in the order they were sent: a busy machine may open the second connection first
    first, second = sorted(messages, key=lambda m: m["data"]["data"]["timestamp"]["relative"])
    before = first["data"]["data"]["participant"]
    after = second["data"]["data"]["participant"]
    assert (before["id"], before["name"], before["is_host"]) == (1, "Ann", False)
    assert (after["id"], after["name"], after["is_host"]) == (1, "Ann Lee", True)


async def test_waiting_room_then_admitted(receiver: AudioReceiver, tmp_path: Path) -> None:
    bot, _ = await run(receiver, tmp_path, [End(SubCode.CALL_ENDED_BY_HOST)], lobby=[Lobby()])
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_waiting_room", None),
        ("in_call_not_recording", None),
        ("in_call_recording", None),
        ("call_ended", SubCode.CALL_ENDED_BY_HOST),
        ("done", None),
    ]


async def test_never_admitted_leaves_at_the_waiting_room_timeout(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    bot, adapter = await run(
        receiver,
        tmp_path,
        [],
        lobby=[Lobby()],
        admitted=False,
        automatic_leave={"waiting_room_timeout": 0.1},
    )
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_waiting_room", None),
        ("call_ended", SubCode.TIMEOUT_EXCEEDED_WAITING_ROOM),
        ("done", None),
    ]
    assert adapter.left, "the bot hung up on its way out of the lobby"


async def test_recording_permission_asked_and_allowed(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    script: list[Step] = [Join("a", "Ann"), Permission(granted=True), End("call_ended_by_host")]
    bot, _ = await run(receiver, tmp_path, script, permission=False)
    assert codes(bot)[2:5] == [
        ("in_call_not_recording", None),
        ("recording_permission_allowed", None),
        ("in_call_recording", None),
    ]


async def test_recording_permission_denied_leaves_at_its_timeout(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    denied = Permission(granted=False, sub_code=SubCode.ZOOM_RECORDING_PERMISSION_DENIED)
    bot, _ = await run(
        receiver,
        tmp_path,
        [Join("a", "Ann"), denied],
        permission=False,
        automatic_leave={"recording_permission_denied_timeout": 0.1},
    )
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_call_not_recording", None),
        ("recording_permission_denied", SubCode.ZOOM_RECORDING_PERMISSION_DENIED),
        ("call_ended", SubCode.TIMEOUT_EXCEEDED_RECORDING_PERMISSION_DENIED),
        ("done", None),
    ]
    assert bot.recordings == []
    assert receiver.connections == []


async def test_never_allowed_to_record_leaves_at_the_in_call_not_recording_timeout(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    bot, _ = await run(
        receiver,
        tmp_path,
        [Join("a", "Ann")],
        permission=False,
        automatic_leave={"in_call_not_recording_timeout": 0.1},
    )
    assert codes(bot)[-2:] == [
        ("call_ended", SubCode.TIMEOUT_EXCEEDED_IN_CALL_NOT_RECORDING),
        ("done", None),
    ]


async def test_nobody_joins(receiver: AudioReceiver, tmp_path: Path) -> None:
    bot, _ = await run(receiver, tmp_path, [])
    assert codes(bot)[-2:] == [
        ("call_ended", SubCode.TIMEOUT_EXCEEDED_NOONE_JOINED),
        ("done", None),
    ]


def seconds_recorded(bot: Bot) -> float:
    """From `in_call_recording` to `call_ended`."""
    moments = {change.code: change.created_at for change in bot.status_changes}
    return (moments["call_ended"] - moments["in_call_recording"]).total_seconds()


async def test_silence_detection_leaves_after_its_timeout_of_silence(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    rules = {**QUICK, "silence_detection": {"timeout": 0.4, "activate_after": 0}}
    script: list[Step] = [Join("a", "Ann"), UntilRecording(), Speak("a", 440, 0.2)]
    bot, _ = await run(receiver, tmp_path, script, automatic_leave=rules)
    assert codes(bot) == [
        *RECORDED,
        ("call_ended", SubCode.TIMEOUT_EXCEEDED_SILENCE_DETECTED),
        ("done", None),
    ]
    assert seconds_recorded(bot) >= 0.4, "Ann was heard: the silence counts from then"


@pytest.mark.parametrize(
    ("detection", "left_behind", "sub_code"),
    [
        (
            {"using_participant_names": {"matches": ["notetaker", "read.ai"]}},
            [Join("b", "Otter Notetaker"), Join("c", "Read.ai meeting assistant")],
            SubCode.TIMEOUT_EXCEEDED_ONLY_BOTS_BY_NAME,
        ),
        (
            {"using_participant_events": {}},
            [Join("b", "Bob", muted=True)],
            SubCode.TIMEOUT_EXCEEDED_ONLY_BOTS_BY_EVENTS,
        ),
    ],
    ids=["by-name", "never-heard"],
)
async def test_only_bots_left(
    receiver: AudioReceiver,
    tmp_path: Path,
    detection: dict[str, dict[str, Any]],
    left_behind: list[Step],
    sub_code: str,
) -> None:
    quick = {"timeout": 0.2, "activate_after": 0}
    rules = {
        **QUICK,
        "bot_detection": {rule: {**options, **quick} for rule, options in detection.items()},
    }
    script: list[Step] = [
        Join("a", "Ann"),
        *left_behind,
        UntilRecording(),
        Speak("a", 440, 0.2),
        Leave("a"),
    ]
    bot, _ = await run(receiver, tmp_path, script, automatic_leave=rules)
    assert codes(bot)[-2:] == [("call_ended", sub_code), ("done", None)]


async def test_someone_heard_keeps_the_bot_from_taking_them_for_a_bot(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    events = {"timeout": 0.5, "activate_after": 0}  # margins for a busy CI machine
    rules = {
        **QUICK,
        "silence_detection": {"timeout": 1.2, "activate_after": 0},
        "bot_detection": {"using_participant_events": events},
    }
    script: list[Step] = [Join("a", "Ann"), UntilRecording(), Speak("a", 440, 0.2)]
    bot, _ = await run(receiver, tmp_path, script, automatic_leave=rules)
    assert codes(bot)[-2][1] == SubCode.TIMEOUT_EXCEEDED_SILENCE_DETECTED


@pytest.mark.parametrize("sub_code", [SubCode.CALL_ENDED_BY_HOST, SubCode.BOT_KICKED_FROM_CALL])
async def test_thrown_out(receiver: AudioReceiver, tmp_path: Path, sub_code: str) -> None:
    script: list[Step] = [Join("a", "Ann"), UntilRecording(), Speak("a", 440, 0.5), End(sub_code)]
    bot, _ = await run(receiver, tmp_path, script)
    assert codes(bot) == [*RECORDED, ("call_ended", sub_code), ("done", None)]
    assert bot.recordings[0].status.code == "done"
    (connection,) = receiver.connections
    assert connection.close_code == 1000
    (ann,) = receiver.participants.values()
    assert ann.seconds == pytest.approx(0.5, abs=0.001), "the stream's last 20 ms went out too"


async def test_a_join_that_fails_is_fatal_in_its_own_words(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    error = JoinError(SubCode.MEETING_PASSWORD_INCORRECT, "the meeting refused the password")
    bot, adapter = await run(receiver, tmp_path, [], join_error=error)
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("fatal", SubCode.MEETING_PASSWORD_INCORRECT),
    ]
    assert bot.status_changes[-1].message == "the meeting refused the password"
    assert adapter.left


async def test_a_refusal_from_the_waiting_room_ends_the_call_rather_than_failing(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    error = JoinError(SubCode.BOT_KICKED_FROM_WAITING_ROOM, "someone refused to let the bot in")
    bot, _ = await run(receiver, tmp_path, [], lobby=[Lobby()], join_error=error)
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_waiting_room", None),
        ("call_ended", SubCode.BOT_KICKED_FROM_WAITING_ROOM),
        ("done", None),
    ]


async def test_leave_call_while_in_the_waiting_room(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    adapter = ScriptedAdapter([], lobby=[Lobby()], admitted=False)
    async with asyncio.timeout(10):
        bot = await attend_in_process(
            adapter, [receiver], tmp_path, leave_when=adapter.lobby_played.wait
        )
    assert codes(bot) == [
        ("ready", None),
        ("joining_call", None),
        ("in_waiting_room", None),
        ("call_ended", SubCode.BOT_RECEIVED_LEAVE_CALL),
        ("done", None),
    ]
    assert adapter.left


async def test_permission_taken_back_mid_call_pauses_and_a_new_grant_resumes(
    receiver: AudioReceiver, tmp_path: Path
) -> None:
    taken_back = Permission(granted=False, sub_code=SubCode.ZOOM_RECORDING_PERMISSION_DENIED)
    script: list[Step] = [
        Join("a", "Ann"),
        UntilRecording(),
        Speak("a", 500, 0.5),
        taken_back,
        Speak("a", 500, 0.5),  # not recorded
        Permission(granted=True),
        Speak("a", 500, 0.5),
        Leave("a"),
    ]
    bot, _ = await run(receiver, tmp_path, script)
    assert codes(bot) == [
        *RECORDED,
        ("recording_permission_denied", SubCode.ZOOM_RECORDING_PERMISSION_DENIED),
        ("recording_permission_allowed", None),
        ("in_call_recording", None),
        ("call_ended", SubCode.TIMEOUT_EXCEEDED_EVERYONE_LEFT),
        ("done", None),
    ]
    (ann,) = receiver.participants.values()
    assert len(ann.connections) == 2
    assert ann.seconds == pytest.approx(1.0, abs=0.05), "nothing while permission was withdrawn"
