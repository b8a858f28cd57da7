"""One receiver, several bots in the same meeting (the fleet bench): each bot's
stream of a participant is kept apart, though every bot numbers and names them alike."""

import base64
import uuid

import numpy as np
import pytest
from websockets.asyncio.client import connect

from unmixed.receiver import AudioReceiver
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    AudioData,
    AudioSeparateRawMessage,
    AudioSeparateRawPayload,
    Participant,
    Timestamp,
)


def ann_as_heard_by(bot_id: str, recording_id: str, level: int) -> str:
    """Participant 1, Ann, in 40 ms at a constant `level`, as one bot would send her."""
    pcm = np.full(640, level, dtype="<i2")
    return AudioSeparateRawMessage(
        data=AudioSeparateRawPayload(
            data=AudioData(
                buffer=base64.b64encode(pcm.tobytes()).decode("ascii"),
                timestamp=Timestamp.at(1_000_000.0, 1_000_000.0),
                participant=Participant(id=1, name="Ann", is_host=False, platform="desktop"),
            ),
            realtime_endpoint=ObjectRef(id=str(uuid.uuid4()), metadata={}),
            audio_separate=ObjectRef(id=str(uuid.uuid4()), metadata={}),
            recording=ObjectRef(id=recording_id, metadata={}),
            bot=ObjectRef(id=bot_id, metadata={}),
        )
    ).model_dump_json()


async def test_each_bots_stream_of_a_participant_is_its_own() -> None:
    bots = {str(uuid.uuid4()): level for level in (100, 200)}
    async with AudioReceiver() as receiver:
        for bot_id, level in bots.items():
            async with connect(receiver.url) as socket:
                await socket.send(ann_as_heard_by(bot_id, str(uuid.uuid4()), level))
        await receiver.wait_for(lambda: len(receiver.participants) == 2, timeout=5)
    for bot_id, level in bots.items():
        ann = receiver.participant("Ann", bot_id=bot_id)
        assert ann.bot_id == bot_id
        assert set(ann.timeline().tolist()) == {level}
    assert receiver.participant("Ann").bot_id in bots
    with pytest.raises(KeyError):
        receiver.participant("Ann", bot_id=str(uuid.uuid4()))
