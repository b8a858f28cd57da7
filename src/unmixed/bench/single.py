"""One bot in a meeting of N speakers: the native adapter, or the browser bot on the web page.

Each participant also mutes once, for the unmute-to-first-message time. The
bot's CPU and memory are read from its whole process tree.
"""

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unmixed.bench.floor import Floor, measure_floor
from unmixed.bench.latency import first_message_delays, onset_latencies
from unmixed.bench.process_watch import ProcessTreeWatch, bot_process, watch_while_speaking
from unmixed.bench.speakers import BeepLog, beeping_tracks, bench_scenario, speaker_loop
from unmixed.local import FINISHED, local_stack
from unmixed.testbed.meeting import TestbedMeeting


@dataclass
class Figures:
    """What one bench run measured for one way of attending the meeting."""

    participants: int
    floor: Floor
    latencies: list[float]
    watch: ProcessTreeWatch
    unmute_delays: list[float]


async def measure_single(participants: int, seconds: float, *, through_browser: bool) -> Figures:
    """One bot, sent through the API, in a meeting of `participants` beeping speakers;
    the floor first, for the same speakers, before anything else runs."""
    logs: dict[str, BeepLog] = {}
    scenario = bench_scenario(participants, seconds)
    floor = measure_floor(
        [speaker_loop(spec, participants)[0] for spec in scenario.participants], seconds
    )
    with tempfile.TemporaryDirectory(prefix="unmixed-bench-") as work:
        async with local_stack(Path(work)) as stack:
            tracks = beeping_tracks(participants, logs)
            async with TestbedMeeting(stack.janus.url, scenario, track_for=tracks) as meeting:
                url = meeting.web_meeting_url if through_browser else meeting.meeting_url
                bot = await stack.send_bot(url, bot_name="bench")
                watching = asyncio.create_task(watch_while_speaking([bot_process(bot.id)], seconds))
                await meeting.play()
                (watch,) = (await watching).watches
            await stack.client.wait_for_status(bot.id, FINISHED, timeout=60)
    receiver = stack.receiver
    latencies = [
        latency
        for name, log in logs.items()
        for latency in onset_latencies(receiver.participant(name), log.onsets)
    ]
    unmute_delays = [
        delay
        for name, participant in meeting.participants.items()
        for delay in first_message_delays(receiver.participant(name), participant.log.unmutes)
    ]
    return Figures(participants, floor, latencies, watch, unmute_delays)
