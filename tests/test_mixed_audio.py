"""`audio_mixed_raw`: the whole meeting in one stream, on the separate streams' timeline."""

import numpy as np

from tests.audio import tone_level_db
from tests.meeting import attend, audio_endpoint
from unmixed.client import UnmixedClient
from unmixed.receiver import AudioReceiver
from unmixed.testbed.server import JanusServer
from unmixed.wire.realtime import AUDIO_MIXED_RAW_DATA, AUDIO_SEPARATE_RAW_DATA, SAMPLE_RATE
from unmixed.wire.status import StatusCode

TONES = {"Ann": 440.0, "Ben": 660.0, "Cy": 880.0}


async def test_the_mix_holds_everyone_and_lines_up_with_each_stream(
    janus: JanusServer, client: UnmixedClient, receiver: AudioReceiver
) -> None:
    endpoint = audio_endpoint(receiver)
    endpoint["events"] = [AUDIO_SEPARATE_RAW_DATA, AUDIO_MIXED_RAW_DATA]
    scenario = {
        "participants": [
            {"name": name, "tone_hz": hz, "leave_at": 6, "muted": [[2, 4]] if name == "Cy" else []}
            for name, hz in TONES.items()
        ],
        "duration": 7,
    }
    attended = await attend(
        client,
        janus.url,
        [],
        scenario,
        recording_config={
            "audio_separate_raw": {},
            "audio_mixed_raw": {},
            "realtime_endpoints": [endpoint],
        },
        automatic_leave={"everyone_left_timeout": 1},
    )
    assert attended.bot.status_changes[-1].code == StatusCode.DONE
    assert receiver.invalid_messages == []
    mixed = receiver.mixed.read(0, receiver.mixed.length)
    separate = [receiver.participant(name).timeline() for name in TONES]
    length = min(len(mixed), *(len(track) for track in separate))
    assert length > 4 * SAMPLE_RATE
    summed = np.sum([track[:length].astype(np.int32) for track in separate], axis=0)
    mixed = mixed[:length].astype(np.int32)
    assert np.corrcoef(mixed, summed)[0, 1] > 0.99, "the mix is the sum of the streams, aligned"
    for name, hz in TONES.items():
        own = tone_level_db(separate[list(TONES).index(name)][:length].astype(np.int16), hz)
        assert tone_level_db(mixed.astype(np.int16), hz) > own - 3, f"{name} is in the mix"
    muted = mixed[int(2.5 * SAMPLE_RATE) : int(3.5 * SAMPLE_RATE)].astype(np.int16)
    assert tone_level_db(muted, TONES["Cy"]) < tone_level_db(muted, TONES["Ann"]) - 30
