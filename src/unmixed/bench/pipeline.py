"""Media and delivery alone: one bot process fed each participant's Opus at real rate.

The bot is the real runner with its media and delivery, in a process of its own
(`pipeline_bot.py`), streaming to the bench's receiver; only the meeting is
missing. `PacedAdapter` hands it the packets the bench's speakers would send,
encoded beforehand, where the testbed adapter's WebRTC receive path would. The
floor is measured on the very same packets first, so the bot's CPU per stream
reads as a multiple of it: how far media and delivery are from the least any
bot must spend, with the cost of WebRTC left out. Each stream's samples are
counted at the receiver too: at real rate on an idle machine, none may be lost.
"""

import asyncio
import itertools
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

from unmixed.bench.floor import Floor, floor_of_packets, opus_packets
from unmixed.bench.paced import PACKET_SECONDS, PacedSpeaker
from unmixed.bench.pipeline_bot import write_speakers
from unmixed.bench.process_watch import ProcessTreeWatch, Watched, watch_while_speaking
from unmixed.bench.speakers import bench_scenario, speaker_loop
from unmixed.receiver import AudioReceiver, ParticipantAudio
from unmixed.store import ENVIRONMENT_KEY, Bots, open_database
from unmixed.wire.bots import BotCreate
from unmixed.wire.realtime import AUDIO_SEPARATE_RAW_DATA, SAMPLE_RATE
from unmixed.wire.status import StatusCode

BOT_MODULE = "unmixed.bench.pipeline_bot"

MEETING_URL = "testbed://127.0.0.1:9/1"
"""The stored bot's meeting: never contacted, the paced adapter is the meeting."""

STREAMING_TIMEOUT = 60.0
"""Seconds for the bot process to start and every stream to reach the receiver."""

DRAIN_TIMEOUT = 60.0
"""Seconds, after the speakers stop, for the bot to deliver the rest and finish."""

PACKET_SAMPLES = round(SAMPLE_RATE * PACKET_SECONDS)


@dataclass(frozen=True)
class StreamCount:
    """One participant's stream as the receiver got it."""

    name: str
    expected: int
    """Samples the participant sent: every packet's, decoded at 16 kHz."""
    received: int
    connections: int
    gaps: int
    """Messages that did not start where the one before them on their connection ended."""

    @property
    def lost(self) -> int:
        return self.expected - self.received


@dataclass(frozen=True)
class PipelineFigures:
    """What one pipeline run measured."""

    floor: Floor
    watch: ProcessTreeWatch
    """The bot's process."""
    own_cpu_percent: float
    """The bench's process (the receiver, mostly), in percent of one core."""
    streams: list[StreamCount]

    @property
    def participants(self) -> int:
        return len(self.streams)


def paced_speakers(participants: int, seconds: float) -> list[PacedSpeaker]:
    """The bench's beeping speakers, each as `seconds` of Opus packets, encoded as the
    floor encodes them."""
    specs = bench_scenario(participants, seconds).participants
    return [
        PacedSpeaker(spec.name, opus_packets(speaker_loop(spec, participants)[0], seconds))
        for spec in specs
    ]


async def measure_pipeline(participants: int, seconds: float) -> PipelineFigures:
    """The floor of `participants` streams of `seconds`, then one bot process on them."""
    speakers = paced_speakers(participants, seconds)
    floor = floor_of_packets([speaker.packets for speaker in speakers], seconds)
    with tempfile.TemporaryDirectory(prefix="unmixed-bench-") as work:
        async with AudioReceiver() as receiver:
            watched = await _run_bot(Path(work), speakers, receiver, seconds)
    (watch,) = watched.watches
    return PipelineFigures(
        floor=floor,
        watch=watch,
        own_cpu_percent=watched.own_cpu_percent,
        streams=[
            stream_count(
                speaker.name, receiver.heard(speaker.name), len(speaker.packets) * PACKET_SAMPLES
            )
            for speaker in speakers
        ],
    )


async def _run_bot(
    work: Path, speakers: list[PacedSpeaker], receiver: AudioReceiver, seconds: float
) -> Watched:
    """Start the bot process on a stored bot and watch it once every stream flows."""
    database_url = f"sqlite:///{work / 'bots.db'}"
    bot_id = _stored_bot(database_url, receiver.url)
    speakers_file = work / "speakers.json"
    write_speakers(speakers_file, speakers)
    log_path = work / "bot.log"
    with log_path.open("wb") as log:
        bot = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", BOT_MODULE, database_url, bot_id, str(speakers_file)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        await _until_streaming(receiver, bot, len(speakers))
        watched = await watch_while_speaking([psutil.Process(bot.pid)], seconds)
        async with asyncio.timeout(DRAIN_TIMEOUT):
            await bot.wait()
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    _check_done(database_url, bot_id, bot.returncode, log_path)
    return watched


def _stored_bot(database_url: str, receiver_url: str) -> str:
    """A bot in `ready`, streaming each participant to the receiver: its id."""
    bots = Bots(open_database(database_url, migrate=True))
    create = BotCreate.model_validate(
        {
            "meeting_url": MEETING_URL,
            "bot_name": "bench-pipeline",
            "recording_config": {
                "audio_separate_raw": {},
                "realtime_endpoints": [
                    {"type": "websocket", "url": receiver_url, "events": [AUDIO_SEPARATE_RAW_DATA]}
                ],
            },
        }
    )
    return bots.create(create, create.parsed_meeting_url(), ENVIRONMENT_KEY).id


async def _until_streaming(
    receiver: AudioReceiver, bot: asyncio.subprocess.Process, participants: int
) -> None:
    """Until every participant's audio reaches the receiver; an error if the bot ends first."""
    streaming = asyncio.create_task(
        receiver.wait_for(lambda: len(receiver.participants) == participants, STREAMING_TIMEOUT)
    )
    ended = asyncio.create_task(bot.wait())
    await asyncio.wait({streaming, ended}, return_when=asyncio.FIRST_COMPLETED)
    ended.cancel()
    if not streaming.done():
        streaming.cancel()
        raise RuntimeError(f"the bot process ended with {bot.returncode} before streaming")
    streaming.result()


def _check_done(database_url: str, bot_id: str, exit_code: int | None, log_path: Path) -> None:
    """The bot must have exited cleanly in `done`; otherwise its log says why not."""
    bot = Bots(open_database(database_url)).get(bot_id)
    status = bot.status_changes[-1].code if bot is not None else None
    if exit_code == 0 and status == StatusCode.DONE:
        return
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
    raise RuntimeError(f"the bot process exited with {exit_code} in {status}:\n{tail}")


def stream_count(name: str, audio: ParticipantAudio | None, expected: int) -> StreamCount:
    """What the receiver got of one participant, against the `expected` samples."""
    connections = audio.connections if audio is not None else []
    arrivals = [connection.arrivals for connection in connections]
    return StreamCount(
        name=name,
        expected=expected,
        received=sum(arrival.samples for messages in arrivals for arrival in messages),
        connections=len(connections),
        gaps=sum(
            round(current.relative * SAMPLE_RATE)
            != round(previous.relative * SAMPLE_RATE) + previous.samples
            for messages in arrivals
            for previous, current in itertools.pairwise(messages)
        ),
    )
