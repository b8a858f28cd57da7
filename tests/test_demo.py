"""The README's first command: three people speak, and each stream holds one voice."""

import io
from pathlib import Path

from rich.console import Console

from unmixed.demo import run_demo


async def test_each_demo_stream_holds_its_speakers_voice_alone(tmp_path: Path) -> None:
    matches = await run_demo(tmp_path, Console(file=io.StringIO()))
    assert set(matches) == {"Alice", "Bob", "Carol"}
    for name, scores in matches.items():
        assert scores[name] > 0.8, f"{name}'s stream does not sound like {name}: {scores}"
        for other, score in scores.items():
            if other != name:
                assert score < 0.5, f"{other} is heard in {name}'s stream: {scores}"
    assert len(list(tmp_path.glob("*-participant-*.wav"))) == 3
    assert (tmp_path / "events.jsonl").stat().st_size > 0
    for name in ("Alice", "Bob", "Carol"):
        [text] = [p for p in tmp_path.glob("*.transcript.txt") if f"] {name}: " in p.read_text()]
        assert text.read_text().count(f"] {name}: ") >= 1
