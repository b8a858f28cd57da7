"""N bots in one meeting of beeping speakers: what a machine full of bots costs.

The bots are created all at once, concurrently, through the API as any client
would create them, and all stream to the one receiver, which tells their
streams apart by the bot each message names. Once every bot is recording the
speakers join; each bot's process is watched while they speak, and the whole
machine with it (Janus, the speakers, the API and the receiver share it).
"""

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from unmixed.bench.floor import Floor, measure_floor
from unmixed.bench.latency import first_message_delays, onset_latencies
from unmixed.bench.lost import (
    SenderClock,
    StreamLoss,
    capture_offset,
    recording_origin,
    stream_loss,
)
from unmixed.bench.process_watch import (
    ProcessTreeWatch,
    Watched,
    bot_processes,
    janus_process,
    watch_while_speaking,
)
from unmixed.bench.speakers import BeepLog, beeping_tracks, bench_scenario, speaker_loop
from unmixed.local import FINISHED, LocalStack, local_stack
from unmixed.receiver import AudioReceiver, ParticipantAudio
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.participant import ParticipantLog
from unmixed.testbed.scenario import Scenario
from unmixed.wire.bots import Bot
from unmixed.wire.status import StatusCode

Launcher = Literal["local", "celery"]

STAY_AFTER_SPEAKERS = {"everyone_left_timeout": 120}
"""The bench ends its bots itself once the speakers have left (to time `leave_call` and
a dead worker's detection): they must not leave on their own first."""

READY_TIMEOUT = 300.0
"""Seconds for every bot to be recording: bots started together share two cores."""

FINISH_TIMEOUT = 120.0
POLL_EVERY = 0.5
"""How often each bot is polled; the fleet's stack allows one client this many polls."""


@dataclass(frozen=True)
class Startup:
    """A bot as it stood once the fleet had started."""

    bot: Bot
    seconds: float | None
    """From its creation to `in_call_recording`, on the API's clock; None: it never got there."""


@dataclass
class FleetFigures:
    """What one fleet run measured."""

    speakers: int
    floor: Floor
    startups: list[Startup]
    watches: dict[str, ProcessTreeWatch]
    """Each recording bot's process, by bot id."""
    janus_cpu_percent: float
    own_cpu_percent: float
    """The bench's process: the speakers, the API and the receiver."""
    machine_cpu_percent: float
    losses: list[StreamLoss]
    timestamp_offsets: list[float]
    """Per stream: how much later than the moment a sample left its speaker the bot dated it."""
    latencies: list[float]
    unmute_delays: list[float]
    publish_delays: list[float]
    ending: "Ending"

    @property
    def recording(self) -> list[Startup]:
        return [startup for startup in self.startups if startup.seconds is not None]


@dataclass(frozen=True)
class Ending:
    """How the fleet's bots were ended, once their speakers had spoken."""

    launcher: str
    leave_seconds: list[float]
    """From each `leave_call` request to the bot's `call_ended`, on the bot's clock."""
    lost_seconds: list[float]
    """With a worker: from killing it (and its bots) to each bot's `fatal`/`bot_process_lost`,
    on the clock of whoever noticed."""


@dataclass
class _Run:
    """What a fleet run leaves behind, to be worked out once everyone has gone."""

    startups: list[Startup]
    bot_ids: list[str]
    """The bots whose process was found and watched, in the order of `watched`."""
    watched: Watched
    """The bots' processes, then Janus."""
    people: dict[str, ParticipantLog]
    beeps: dict[str, BeepLog]
    receiver: AudioReceiver
    ended: float
    ending: Ending


async def measure_fleet(
    bots: int, speakers: int, seconds: float, launcher: Launcher = "local"
) -> FleetFigures:
    """`bots` bots in one meeting of `speakers` beeping speakers; the floor first."""
    scenario = bench_scenario(speakers, seconds)
    floor = measure_floor(
        [speaker_loop(spec, speakers)[0] for spec in scenario.participants], seconds
    )
    return _figures(speakers, floor, await _run(bots, scenario, seconds, launcher))


async def _run(bots: int, scenario: Scenario, seconds: float, launcher: Launcher) -> _Run:
    beeps: dict[str, BeepLog] = {}
    tracks = beeping_tracks(len(scenario.participants), beeps)
    with tempfile.TemporaryDirectory(prefix="unmixed-bench-") as work:
        async with local_stack(Path(work), bots=bots, launcher=launcher) as stack:
            async with TestbedMeeting(stack.janus.url, scenario, track_for=tracks) as meeting:
                startups = await _start_fleet(stack, meeting.meeting_url, bots)
                processes = bot_processes([s.bot.id for s in startups if s.seconds is not None])
                watching = asyncio.create_task(
                    watch_while_speaking([*processes.values(), janus_process()], seconds)
                )
                await meeting.play()
                watched = await watching
                ending = await _end(stack, [s.bot for s in startups if s.seconds is not None])
            ended = time.time()
            await asyncio.gather(
                *(
                    stack.client.wait_for_status(
                        s.bot.id, FINISHED, timeout=FINISH_TIMEOUT, every=POLL_EVERY
                    )
                    for s in startups
                )
            )
    people = {name: participant.log for name, participant in meeting.participants.items()}
    return _Run(startups, list(processes), watched, people, beeps, stack.receiver, ended, ending)


async def _end(stack: LocalStack, recording: list[Bot]) -> Ending:
    """Ask the bots to leave, timing each; with a worker, ask only half of them, then
    kill the worker (as its machine would die) and time how soon the rest are lost."""
    launcher = stack.api.settings.launcher
    leaving = recording if stack.worker is None else recording[: len(recording) // 2]
    leave_seconds = list(await asyncio.gather(*(_leave(stack, bot) for bot in leaving)))
    lost_seconds: list[float] = []
    if stack.worker is not None:
        killed_at = time.time()
        stack.kill_worker()
        lost_seconds = list(
            await asyncio.gather(
                *(_lost(stack, bot, killed_at) for bot in recording[len(leaving) :])
            )
        )
    return Ending(launcher, leave_seconds, lost_seconds)


async def _leave(stack: LocalStack, bot: Bot) -> float:
    asked_at = time.time()
    await stack.client.leave_call(bot.id)
    return await _status_after(stack, bot, StatusCode.CALL_ENDED, asked_at)


async def _lost(stack: LocalStack, bot: Bot, killed_at: float) -> float:
    return await _status_after(stack, bot, StatusCode.FATAL, killed_at)


async def _status_after(stack: LocalStack, bot: Bot, code: StatusCode, since: float) -> float:
    """Seconds from `since` to the bot's `code`, as its status change dates it."""
    ended = await stack.client.wait_for_status(
        bot.id, {code, *FINISHED}, timeout=FINISH_TIMEOUT, every=POLL_EVERY
    )
    for change in ended.status_changes:
        if change.code == code:
            return change.created_at.timestamp() - since
    seen = ", ".join(f"{c.code}/{c.sub_code}" for c in ended.status_changes)
    raise RuntimeError(f"bot {bot.id} ended without {code}: {seen}")


def _figures(speakers: int, floor: Floor, run: _Run) -> FleetFigures:
    recording = [s for s in run.startups if s.seconds is not None]
    heard = {
        (s.bot.id, name): run.receiver.heard(name, bot_id=s.bot.id)
        for s in recording
        for name in run.people
    }
    streams = {key: audio for key, audio in heard.items() if audio is not None}
    origins = {s.bot.id: _origin(s.bot, streams) for s in recording}
    offsets = {
        (bot_id, name): capture_offset(audio, run.beeps[name].onsets, origins[bot_id])
        for (bot_id, name), audio in streams.items()
    }
    *bot_watches, janus = run.watched.watches
    return FleetFigures(
        speakers=speakers,
        floor=floor,
        startups=run.startups,
        watches=dict(zip(run.bot_ids, bot_watches, strict=True)),
        janus_cpu_percent=janus.cpu_percent,
        own_cpu_percent=run.watched.own_cpu_percent,
        machine_cpu_percent=run.watched.machine_cpu_percent,
        losses=[
            stream_loss(
                bot_id,
                name,
                audio,
                run.people[name],
                origins[bot_id],
                SenderClock(run.beeps[name].onsets),
                run.ended,
            )
            for (bot_id, name), audio in heard.items()
        ],
        timestamp_offsets=[offset for offset in offsets.values() if offset is not None],
        latencies=[
            latency
            for (_, name), audio in streams.items()
            for latency in onset_latencies(audio, run.beeps[name].onsets)
        ],
        unmute_delays=[
            delay
            for (_, name), audio in streams.items()
            for delay in first_message_delays(audio, run.people[name].unmutes)
        ],
        publish_delays=[
            delay
            for (_, name), audio in streams.items()
            for delay in first_message_delays(audio, _published(run.people[name].published_at))
        ],
        ending=run.ending,
    )


async def _start_fleet(stack: LocalStack, meeting_url: str, bots: int) -> list[Startup]:
    """Create every bot at once, then wait until each is recording or has ended."""
    created = await asyncio.gather(
        *(
            stack.create_bot(
                meeting_url, bot_name=f"bench-{index + 1}", automatic_leave=STAY_AFTER_SPEAKERS
            )
            for index in range(bots)
        )
    )
    return list(await asyncio.gather(*(_started(stack, bot) for bot in created)))


async def _started(stack: LocalStack, bot: Bot) -> Startup:
    try:
        bot = await stack.client.wait_for_status(
            bot.id,
            {StatusCode.IN_CALL_RECORDING, *FINISHED},
            timeout=READY_TIMEOUT,
            every=POLL_EVERY,
        )
    except TimeoutError:
        bot = await stack.client.get_bot(bot.id)
    times = {change.code: change.created_at for change in bot.status_changes}
    recording = times.get(StatusCode.IN_CALL_RECORDING)
    if recording is None:
        return Startup(bot, None)
    return Startup(bot, (recording - times[StatusCode.READY]).total_seconds())


def _origin(bot: Bot, streams: dict[tuple[str, str], ParticipantAudio]) -> float:
    """The Unix time of the bot's relative 0: from its messages, else from its status."""
    for (bot_id, _), audio in streams.items():
        origin = recording_origin(audio) if bot_id == bot.id else None
        if origin is not None:
            return origin
    recording = next(c for c in bot.status_changes if c.code == StatusCode.IN_CALL_RECORDING)
    return recording.created_at.timestamp()


def _published(published_at: float | None) -> list[float]:
    return [published_at] if published_at is not None else []
