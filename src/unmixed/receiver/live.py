"""`unmixed receive`: the receiver with a live table, saving aligned WAVs when stopped."""

import asyncio
import math
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from unmixed.receiver.server import AudioReceiver

REFRESH_SECONDS = 0.25


def participants_table(receiver: AudioReceiver) -> Table:
    table = Table(title=f"unmixed receiver on {receiver.url}")
    for column in ("recording", "id", "name", "connected", "connections", "seconds", "last level"):
        table.add_column(column)
    for participant in sorted(receiver.participants.values(), key=lambda p: (p.recording_id, p.id)):
        level = participant.last_level_dbfs
        table.add_row(
            participant.recording_id[:8],
            str(participant.id),
            participant.name or "",
            "[green]yes[/]" if participant.connected else "no",
            str(len(participant.connections)),
            f"{participant.seconds:.1f}",
            "silent" if math.isinf(level) else f"{level:.0f} dBFS",
        )
    if receiver.invalid_messages:
        table.caption = f"[red]{len(receiver.invalid_messages)} invalid messages[/] (events.jsonl)"
    return table


async def receive_live(host: str, port: int, out_dir: Path, console: Console) -> None:
    receiver = AudioReceiver(host=host, port=port, out_dir=out_dir, spool=True)
    try:
        async with receiver:
            console.print(
                f"listening on {receiver.url}; Ctrl-C to stop and write WAVs to {out_dir}"
            )
            with Live(participants_table(receiver), console=console, auto_refresh=False) as live:
                while True:
                    await asyncio.sleep(REFRESH_SECONDS)
                    live.update(participants_table(receiver), refresh=True)
    finally:
        console.print()
        for name, path in receiver.write_wavs(out_dir).items():
            console.print(f"{name}: {path}")
        receiver.release()
