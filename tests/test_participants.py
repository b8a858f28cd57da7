"""Connections follow mutes, joins and leaves, as the room announces them."""

import pytest

from tests.audio import assert_continuous, dominant_frequency
from tests.meeting import attend
from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import StatusCode, SubCode

SIGNAL_DELAY = 0.5
"""The most the bot may lag behind the room in noticing a mute, unmute or leave."""


async def test_mute_closes_and_unmute_opens_a_connection(
    client: AsyncUnmixedClient, janus: JanusServer, receiver: AudioReceiver
) -> None:
    attended = await attend(
        client,
        janus.url,
        [receiver],
        {
            "participants": [
                {"name": "Muted", "tone_hz": 440, "muted": [[0, 2], [4, 6.5]], "leave_at": 8.5},
                {"name": "Steady", "tone_hz": 660, "leave_at": 8.5},
            ],
            "duration": 10,
        },
        automatic_leave={"everyone_left_timeout": 0.5},
    )
    log = attended.meeting.participants["Muted"].log
    muted = receiver.participant("Muted")
    first, second = muted.connections  # exactly two: never connected while muted at the start

    assert first.opened_at >= log.unmutes[0]
    assert first.opened_at - log.unmutes[0] < SIGNAL_DELAY
    assert first.closed_at is not None
    assert 0 <= first.closed_at - log.mutes[1] < SIGNAL_DELAY
    assert second.opened_at >= log.unmutes[1]
    for connection in (first, second):
        assert_continuous(connection)

    _, first_end = first.span()
    second_start, _ = second.span()
    muted_for = log.unmutes[1] - log.mutes[1]
    assert second_start - first_end == pytest.approx(muted_for, abs=0.1)
    assert not muted.between(first_end + 0.05, second_start - 0.05).any(), "muted time is silence"
    assert abs(dominant_frequency(muted.between(second_start, second_start + 1)) - 440) < 3

    (steady_connection,) = receiver.participant("Steady").connections
    assert_continuous(steady_connection)
    assert attended.bot.status_changes[-1].code == StatusCode.DONE


async def test_late_joiner_gets_the_next_id_and_the_bot_leaves_when_everyone_has(
    client: AsyncUnmixedClient, janus: JanusServer, receiver: AudioReceiver
) -> None:
    attended = await attend(
        client,
        janus.url,
        [receiver],
        {
            "participants": [
                {"name": "Early", "tone_hz": 440, "leave_at": 3},
                {"name": "Late", "tone_hz": 660, "join_at": 2, "leave_at": 5},
            ],
            "duration": 9,
        },
        automatic_leave={"everyone_left_timeout": 1},
    )
    logs = {name: p.log for name, p in attended.meeting.participants.items()}
    early, late = receiver.participant("Early"), receiver.participant("Late")
    assert (early.id, late.id) == (1, 2)
    (early_connection,) = early.connections
    (late_connection,) = late.connections
    assert late_connection.opened_at >= logs["Late"].joined_at  # type: ignore[operator]
    for connection, name in ((early_connection, "Early"), (late_connection, "Late")):
        left_at = logs[name].left_at
        assert left_at is not None
        assert connection.closed_at is not None
        assert 0 <= connection.closed_at - left_at < SIGNAL_DELAY, f"{name}'s connection lingered"
    assert abs(dominant_frequency(late.between(*late_connection.span())) - 660) < 3

    changes = attended.bot.status_changes
    assert [change.code for change in changes][-2:] == [StatusCode.CALL_ENDED, StatusCode.DONE]
    call_ended = changes[-2]
    assert call_ended.sub_code == SubCode.TIMEOUT_EXCEEDED_EVERYONE_LEFT
    waited = call_ended.created_at.timestamp() - logs["Late"].left_at  # type: ignore[operator]
    assert 1.0 <= waited < 1.0 + SIGNAL_DELAY + 0.5
