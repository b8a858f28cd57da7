"""The automatic_leave rules that depend on what happens in the call, on the real testbed:
a silent stretch, and a call left to someone named like a bot. (Every rule's logic is
tested fast through the scripted adapter in test_runner_rules.py.)"""

from unmixed.client import AsyncUnmixedClient
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode


async def leave_reason(
    client: AsyncUnmixedClient,
    janus: JanusServer,
    scenario: dict[str, object],
    rules: dict[str, object],
) -> str | None:
    """Play `scenario` with a bot that has `rules`; the sub_code it left with."""
    async with TestbedMeeting(janus.url, Scenario.model_validate(scenario)) as meeting:
        bot = await client.create_bot(
            meeting_url=meeting.meeting_url,
            recording_config={"audio_separate_raw": {}},
            automatic_leave=rules,
        )
        await client.wait_for_status(bot.id, {StatusCode.IN_CALL_RECORDING}, timeout=30)
        await meeting.play()
        bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
    ended = next(change for change in bot.status_changes if change.code == StatusCode.CALL_ENDED)
    return ended.sub_code


async def test_a_silent_call_is_left_after_the_silence_timeout(
    client: AsyncUnmixedClient, janus: JanusServer
) -> None:
    scenario = {
        "participants": [{"name": "Ann", "tone_hz": 440, "muted": [[1.5, 30]]}],
        "duration": 8,
    }
    rules = {"silence_detection": {"timeout": 2, "activate_after": 0}}
    reason = await leave_reason(client, janus, scenario, rules)
    assert reason == SubCode.TIMEOUT_EXCEEDED_SILENCE_DETECTED


async def test_a_call_left_to_a_notetaker_is_left(
    client: AsyncUnmixedClient, janus: JanusServer
) -> None:
    scenario = {
        "participants": [
            {"name": "Ann", "tone_hz": 440, "leave_at": 2},
            {"name": "Acme Notetaker", "tone_hz": 660, "muted": [[0, 30]]},
        ],
        "duration": 8,
    }
    names = {"matches": ["notetaker"], "timeout": 1, "activate_after": 0}
    rules = {"bot_detection": {"using_participant_names": names}}
    reason = await leave_reason(client, janus, scenario, rules)
    assert reason == SubCode.TIMEOUT_EXCEEDED_ONLY_BOTS_BY_NAME
