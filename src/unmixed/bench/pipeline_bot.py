"""The pipeline bench's bot process: the real runner, media and delivery, fed by `PacedAdapter`.

Run as `python -m unmixed.bench.pipeline_bot DATABASE_URL BOT_ID SPEAKERS_FILE` by
`pipeline.py`, in a process of its own so that the operating system can tell its
CPU and memory apart from the bench's and the receiver's. Like a dispatched bot,
it claims a bot the store already holds (it never migrates the store, so it
never loads Alembic), and it reads the speakers' packets, encoded beforehand,
from a file, so that no encoder runs here.
"""

import asyncio
import base64
import json
import sys
from pathlib import Path

from unmixed.bench.paced import PacedAdapter, PacedSpeaker
from unmixed.bots.lease import LEASE
from unmixed.bots.runner import BotRun
from unmixed.egress import EgressPolicy
from unmixed.logs import configure_logging
from unmixed.store import Bots, open_database
from unmixed.store.leases import Leases


def write_speakers(path: Path, speakers: list[PacedSpeaker]) -> None:
    """For `read_speakers` in the bot process: JSON, each packet in base64."""
    document = [
        {"name": speaker.name, "packets": [base64.b64encode(p).decode() for p in speaker.packets]}
        for speaker in speakers
    ]
    path.write_text(json.dumps(document), encoding="utf-8")


def read_speakers(path: Path) -> list[PacedSpeaker]:
    return [
        PacedSpeaker(entry["name"], [base64.b64decode(packet) for packet in entry["packets"]])
        for entry in json.loads(path.read_text(encoding="utf-8"))
    ]


async def attend(database_url: str, bot_id: str, speakers: list[PacedSpeaker]) -> None:
    """Claim the stored bot and attend the paced meeting from joining to done."""
    database = open_database(database_url)
    bots = Bots(database)
    if not Leases(database).claim(bot_id, holder="bench", lease=LEASE):
        raise RuntimeError(f"bot {bot_id} was claimed already")
    adapter = PacedAdapter(speakers)
    run = BotRun(bots.record(bot_id), bots, adapter, EgressPolicy())
    adapter.recording_started = run.recording_started
    await run.run()


def main() -> None:
    configure_logging(process="bot")
    database_url, bot_id, speakers_file = sys.argv[1:]
    asyncio.run(attend(database_url, bot_id, read_speakers(Path(speakers_file))))


if __name__ == "__main__":
    main()
