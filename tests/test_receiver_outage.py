"""A receiver that goes away stalls nothing, loses nothing it can keep, and gets reconnected."""

import asyncio
import time

import numpy as np

from tests.meeting import attend
from unmixed.client import AsyncUnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import StatusCode

OUTAGE_SECONDS = 5.0
RETRY_SECONDS = 3.0


async def test_receiver_away_for_five_seconds(
    client: AsyncUnmixedClient, janus: JanusServer
) -> None:
    async with AudioReceiver() as flaky, AudioReceiver() as steady:
        outage: dict[str, float] = {}

        async def take_flaky_away(meeting: TestbedMeeting) -> None:
            await flaky.wait_for(
                lambda: (
                    len(flaky.participants) == 2
                    and all(p.seconds > 1.5 for p in flaky.participants.values())
                ),
                timeout=20,
            )
            await flaky.stop()
            outage["start"] = time.time()
            await asyncio.sleep(OUTAGE_SECONDS)
            await flaky.start()
            outage["end"] = time.time()

        attended = await attend(
            client,
            janus.url,
            [flaky, steady],
            {
                "participants": [
                    {"name": "A", "tone_hz": 440, "leave_at": 13},
                    {"name": "B", "tone_hz": 660, "leave_at": 13},
                ],
                "duration": 15,
            },
            during=take_flaky_away,
            automatic_leave={"everyone_left_timeout": 0.5},
        )

    assert attended.bot.status_changes[-1].code == StatusCode.DONE
    for name in ("A", "B"):
        steady_audio = steady.participant(name)
        flaky_audio = flaky.participant(name)

        (steady_connection,) = steady_audio.connections
        in_outage = [
            arrival
            for arrival in steady_connection.arrivals
            if outage["start"] <= arrival.arrived_at <= outage["end"]
        ]
        delivered = sum(arrival.samples for arrival in in_outage) / 16000
        assert delivered > 0.9 * (outage["end"] - outage["start"]), "the steady receiver kept up"
        latency = max(arrival.arrived_at - arrival.captured_at for arrival in in_outage)
        assert latency < 1.0, f"{name} on the steady receiver was held up by the outage"

        assert len(flaky_audio.connections) >= 2
        reconnected = flaky_audio.connections[-1].opened_at
        assert outage["end"] <= reconnected <= outage["end"] + RETRY_SECONDS + 0.5
        assert abs(flaky_audio.seconds - steady_audio.seconds) < 0.1, "buffered audio was delivered"
        end = flaky_audio.seconds - 0.5
        kept, heard = flaky_audio.between(0.5, end), steady_audio.between(0.5, end)
        holes = np.count_nonzero((kept == 0) & (heard != 0))  # silence in both is the meeting's
        assert holes < 0.005 * len(kept), "no hole where the receiver was away"
