"""`unmixed receive`: the receiver with a live table, saving aligned WAVs when stopped.

Transcripts, when the bot sends them, show as each participant's last line and
are written to the folder as they arrive (`receiver.transcripts`)."""

import asyncio
import math
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from unmixed.receiver.server import AudioReceiver
from unmixed.receiver.tracks import ParticipantAudio
from unmixed.receiver.transcripts import ParticipantTranscript

REFRESH_SECONDS = 0.25


def participants_table(receiver: AudioReceiver) -> Table:
    """One row per participant heard or transcribed (an endpoint may take only one)."""
    table = Table(title=f"unmixed receiver on {receiver.url}")
    columns = ["recording", "id", "name", "connected", "connections", "seconds", "last level"]
    audio, transcripts = receiver.participants, receiver.transcripts.participants
    for column in [*columns, "last said"] if transcripts else columns:
        table.add_column(column, overflow="fold")
    for key in sorted(audio.keys() | transcripts.keys()):
        row = _audio_cells(audio[key]) if key in audio else [""] * (len(columns) - 3)
        transcript = transcripts.get(key)
        name = audio[key].name if key in audio else transcript.name if transcript else None
        cells = [key[0][:8], str(key[1]), name or "", *row]
        if transcripts:
            cells.append(_last_said(transcript))
        table.add_row(*cells)
    if receiver.invalid_messages:
        table.caption = f"[red]{len(receiver.invalid_messages)} invalid messages[/] (events.jsonl)"
    return table


def _audio_cells(participant: ParticipantAudio) -> list[str]:
    level = participant.last_level_dbfs
    return [
        "[green]yes[/]" if participant.connected else "no",
        str(len(participant.connections)),
        f"{participant.seconds:.1f}",
        "silent" if math.isinf(level) else f"{level:.0f} dBFS",
    ]


def _last_said(transcript: ParticipantTranscript | None) -> str:
    """Their latest utterance; in italics while it is still a partial."""
    line = transcript.last if transcript is not None else None
    if line is None:
        return ""
    text = escape(line.text)
    return text if line.final else f"[italic]{text}…[/]"


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
