"""Faults, tested with real parts: a receiver away for 90 s, Janus killed, the API killed."""

import asyncio
import contextlib
import itertools
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import psutil
import pytest

from tests.meeting import audio_endpoint
from tests.serve import ServeProcess
from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver, ParticipantAudio
from unmixed.receiver.tracks import Arrival
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.bots import Bot
from unmixed.wire.realtime import SAMPLE_RATE
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

OUTAGE_SECONDS = 90.0
RECONNECT_SECONDS = 3.5
"""The bot retries every 3 s; half a second more for the connection itself."""
LIVE_AFTER_OUTAGE_SECONDS = 3.0
API_DEAD_SECONDS = 4.0
"""How long the API stays dead, in seconds of audio the receiver gets meanwhile."""
LONGEST_ALLOWED_ZEROS = 8
"""A 440 Hz tone is zero for one sample at a time at most; eight zeros in a row are a hole."""
FOREVER = 600.0
"""Scenarios last this long: each test makes its participants leave when it wants."""

ONE_TONE = Scenario.model_validate(
    {"participants": [{"name": "A", "tone_hz": 440}], "duration": FOREVER}
)
TWO_TONES = Scenario.model_validate(
    {
        "participants": [{"name": "A", "tone_hz": 440}, {"name": "B", "tone_hz": 660}],
        "duration": FOREVER,
    }
)


@contextlib.asynccontextmanager
async def playing(meeting: TestbedMeeting) -> AsyncIterator[None]:
    """Play the scenario in the background while the test drives the faults."""
    play = asyncio.create_task(meeting.play())
    try:
        yield
    finally:
        play.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await play


async def recording_bot(
    client: AsyncUnmixedClient, meeting: TestbedMeeting, receiver: AudioReceiver
) -> Bot:
    """A bot streaming to `receiver`, already `in_call_recording`, leaving soon after everyone."""
    bot = await client.create_bot(
        meeting_url=meeting.meeting_url,
        bot_name="test bot",
        recording_config={
            "audio_separate_raw": {},
            "realtime_endpoints": [audio_endpoint(receiver)],
        },
        automatic_leave={"everyone_left_timeout": 0.5},
    )
    return await client.wait_for_status(bot.id, {StatusCode.IN_CALL_RECORDING}, timeout=30)


def heard(receiver: AudioReceiver, names: set[str], seconds: float) -> bool:
    """Whether each of `names` has streamed at least `seconds` to the receiver."""
    have = {p.name: p.seconds for p in receiver.participants.values()}
    return all(have.get(name, 0.0) >= seconds for name in names)


def arrivals(audio: ParticipantAudio) -> list[Arrival]:
    """Every message of the participant, across all its connections, in arrival order."""
    return sorted(
        (arrival for connection in audio.connections for arrival in connection.arrivals),
        key=lambda arrival: arrival.arrived_at,
    )


def assert_one_timeline(messages: list[Arrival]) -> None:
    """Each message starts exactly where the one before ended: nothing lost, nothing repeated."""
    for index, (previous, current) in enumerate(itertools.pairwise(messages), start=1):
        expected = previous.relative + previous.samples / SAMPLE_RATE
        assert abs(current.relative - expected) < 2e-6, (
            f"message {index} starts at {current.relative:.6f}, "
            f"not where the one before ended ({expected:.6f})"
        )


def longest_zero_run(samples: np.ndarray) -> int:
    """The longest run of zero samples: audio that went missing reads back as zeros."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], samples == 0, [0])).astype(np.int8)))
    return int((edges[1::2] - edges[0::2]).max(initial=0))


def delivered_seconds(messages: list[Arrival], start: float, end: float) -> float:
    """Audio captured between two wall-clock times, in seconds."""
    return sum(m.samples for m in messages if start <= m.captured_at < end) / SAMPLE_RATE


@pytest.mark.timeout(240)
async def test_receiver_away_for_ninety_seconds_loses_no_sample(
    client: AsyncUnmixedClient, janus: JanusServer
) -> None:
    """Recall gives up on a receiver after 90 s; unmixed holds that long and loses nothing."""
    async with AudioReceiver() as receiver, TestbedMeeting(janus.url, ONE_TONE) as meeting:
        bot = await recording_bot(client, meeting, receiver)
        speaker = meeting.participants["A"]
        async with playing(meeting):
            await receiver.wait_for(lambda: heard(receiver, {"A"}, 2.0), timeout=20)
            await receiver.stop()
            away_at = time.time()
            await asyncio.sleep(OUTAGE_SECONDS)
            await receiver.start()
            back_at = time.time()
            live_from = back_at + LIVE_AFTER_OUTAGE_SECONDS
            await receiver.wait_for(
                lambda: (
                    receiver.participant("A").connections[-1].arrivals[-1].captured_at > live_from
                ),
                timeout=30,
            )
            await speaker.leave()
        bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)

    assert bot.status_changes[-1].code == StatusCode.DONE
    audio = receiver.participant("A")
    assert len(audio.connections) >= 2, "the receiver went away, so the bot had to reconnect"
    reconnected = audio.connections[1].opened_at
    assert back_at <= reconnected <= back_at + RECONNECT_SECONDS
    messages = arrivals(audio)
    assert_one_timeline(messages)
    outage = back_at - away_at
    in_outage = delivered_seconds(messages, away_at, back_at)
    assert in_outage == pytest.approx(outage, abs=0.15), "the outage's audio arrived afterwards"
    first, last = messages[0], messages[-1]
    span = last.relative + last.samples / SAMPLE_RATE - first.relative
    assert audio.samples == pytest.approx(span * SAMPLE_RATE, abs=2)
    assert speaker.log.published_at is not None
    assert speaker.log.left_at is not None
    unmuted = speaker.log.left_at - speaker.log.published_at
    assert audio.seconds == pytest.approx(unmuted, abs=0.3), "all the speaker sent arrived"
    zeros = longest_zero_run(audio.between(first.relative, first.relative + span))
    assert zeros < LONGEST_ALLOWED_ZEROS, f"a hole of {zeros} zero samples in the audio"


async def test_janus_killed_ends_the_bot_within_five_seconds(client: AsyncUnmixedClient) -> None:
    """A meeting platform can vanish mid-call: the bot must say so and let go of receivers."""
    async with (
        JanusServer() as janus,
        AudioReceiver() as receiver,
        TestbedMeeting(janus.url, TWO_TONES) as meeting,
    ):
        bot = await recording_bot(client, meeting, receiver)
        async with playing(meeting):
            await receiver.wait_for(lambda: heard(receiver, {"A", "B"}, 1.0), timeout=20)
            killed_at = time.time()
            await janus.kill()
            bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=15)
        await receiver.wait_for(
            lambda: all(c.closed_at is not None for c in receiver.connections), timeout=5
        )

    *_, ended, done = bot.status_changes
    assert (ended.code, ended.sub_code) == (StatusCode.CALL_ENDED, SubCode.MEETING_CONNECTION_LOST)
    assert done.code == StatusCode.DONE
    assert done.created_at.timestamp() - killed_at < 5.0
    assert {p.name for p in receiver.participants.values()} == {"A", "B"}
    assert len(receiver.connections) == 2
    assert [c.close_code for c in receiver.connections] == [1000, 1000], "closed cleanly"


def bot_process(api: ServeProcess, bot_id: str) -> psutil.Process:
    """The bot's process, found while it is still the API's child (once orphaned it is not)."""
    assert api.process is not None
    for child in psutil.Process(api.process.pid).children(recursive=True):
        if bot_id in child.cmdline():
            return child
    raise LookupError(f"no process for bot {bot_id}")


def running(process: psutil.Process) -> bool:
    """Whether the process has yet to exit (a zombie nobody reaps has exited)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_gone(process: psutil.Process, timeout: float) -> None:
    """Wait for a process that is not our child to exit: its pidfd turns readable then,
    even if, orphaned, it stays a zombie that nobody reaps."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    loop.add_reader(pidfd, exited.set)
    try:
        async with asyncio.timeout(timeout):
            await exited.wait()
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def test_api_killed_and_restarted_mid_call(janus: JanusServer, tmp_path: Path) -> None:
    """The API is not in the audio path: its crash must not touch a bot, and the next
    API must report what the bot did meanwhile."""
    key = secrets.token_urlsafe(16)
    environment = {
        "UNMIXED_DATA_DIR": str(tmp_path / "data"),
        "UNMIXED_API_KEY": key,
        "UNMIXED_TESTBED_ENABLED": "true",
    }
    log_path = tmp_path / "serve.log"
    first = ServeProcess(environment, log_path)
    orphan: psutil.Process | None = None
    async with AudioReceiver() as receiver, TestbedMeeting(janus.url, ONE_TONE) as meeting:
        await first.start()
        try:
            async with AsyncUnmixedClient(first.url, key) as client:
                bot = await recording_bot(client, meeting, receiver)
            orphan = bot_process(first, bot.id)
            async with playing(meeting):
                await receiver.wait_for(lambda: heard(receiver, {"A"}, 1.0), timeout=20)
                await first.kill()
                killed_at = time.time()
                heard_before = receiver.participant("A").seconds
                await receiver.wait_for(  # the API stays dead while the audio goes on
                    lambda: heard(receiver, {"A"}, heard_before + API_DEAD_SECONDS),
                    timeout=API_DEAD_SECONDS + 5,
                )
                async with (
                    ServeProcess(environment, log_path) as second,
                    AsyncUnmixedClient(second.url, key) as client,
                ):
                    restarted_at = time.time()
                    await meeting.participants["A"].leave()
                    bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
            await wait_gone(orphan, timeout=15)
        finally:
            await first.stop()
            if orphan is not None and running(orphan):
                orphan.kill()

    assert [change.code for change in bot.status_changes] == [
        StatusCode.READY,
        StatusCode.JOINING_CALL,
        StatusCode.IN_CALL_NOT_RECORDING,
        StatusCode.IN_CALL_RECORDING,
        StatusCode.CALL_ENDED,
        StatusCode.DONE,
    ]
    *_, ended, done = bot.status_changes
    assert ended.sub_code == SubCode.TIMEOUT_EXCEEDED_EVERYONE_LEFT
    assert ended.created_at.timestamp() > restarted_at, "written by the bot after the restart"
    assert done.created_at.timestamp() > restarted_at
    audio = receiver.participant("A")
    (connection,) = audio.connections
    assert_one_timeline(connection.arrivals)
    while_dead = [a for a in connection.arrivals if killed_at <= a.arrived_at <= restarted_at]
    assert sum(a.samples for a in while_dead) / SAMPLE_RATE > 0.9 * (restarted_at - killed_at)
    gaps = [b.arrived_at - a.arrived_at for a, b in itertools.pairwise(connection.arrivals)]
    assert max(gaps) < 0.5, f"audio stalled for {max(gaps):.2f} s"
