"""`unmixed demo`: three people talk in a local meeting; a bot streams each one separately."""

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import soxr
from rich.console import Console
from rich.table import Table

from unmixed.local import FINISHED, local_stack
from unmixed.receiver import AudioReceiver, ParticipantAudio
from unmixed.receiver.transcripts import ParticipantTranscript
from unmixed.testbed.audio import SEND_RATE
from unmixed.testbed.meeting import TestbedMeeting, scenario_samples
from unmixed.testbed.participant import ParticipantLog
from unmixed.testbed.scenario import Scenario
from unmixed.transcription.accuracy import normalised, word_error_rate
from unmixed.wire.realtime import SAMPLE_RATE
from unmixed.wire.status import StatusCode


@dataclass(frozen=True)
class Speaker:
    name: str
    voice: str
    sentence: str


SPEAKERS = (
    Speaker("Alice", "en-us+f3", "We need to finish the project before the end of the month."),
    Speaker("Bob", "en-gb+m3", "The quarterly numbers look better than we expected."),
    Speaker("Carol", "en-us+f5", "I will send the customer notes after this call."),
)
DURATION = 16.0
WHOLE_SAYING = 0.8
"""A transcribed utterance with this share of the sentence's words is a whole saying;
shorter ones were cut by a mute or a leave, and are not scored."""


def voice_scores(heard: np.ndarray, voices: dict[str, np.ndarray]) -> dict[str, float]:
    """How well `heard` matches each speaker's recording (normalised cross-correlation,
    1.0 = identical): one high score and low others prove a stream holds one voice."""
    excerpt = _loudest_second(heard).astype(np.float64)
    scores = {}
    for name, voice in voices.items():
        reference = np.tile(voice.astype(np.float64), 2)
        size = 1 << (len(reference) + len(excerpt)).bit_length()
        spectrum = np.fft.rfft(reference, size) * np.conj(np.fft.rfft(excerpt, size))
        products = np.fft.irfft(spectrum, size)
        energy = np.concatenate([[0.0], np.cumsum(reference**2)])
        window = np.sqrt(energy[len(excerpt) :] - energy[: -len(excerpt)])
        norm = np.linalg.norm(excerpt) * np.maximum(window, 1e-9)
        scores[name] = float(np.max(products[: len(window)] / norm))
    return scores


def _longest_stretch(participant: ParticipantAudio) -> np.ndarray:
    """The audio of the participant's longest connection: one unbroken stretch of their
    voice. Across the whole timeline the loudest second could straddle a mute, half
    speech and half silence, and score low for a reason that has nothing to do with
    whose voice it is."""
    longest = max(participant.connections, key=lambda c: c.span()[1] - c.span()[0])
    return participant.between(*longest.span())


def _loudest_second(audio: np.ndarray) -> np.ndarray:
    if len(audio) <= SAMPLE_RATE:
        return audio
    energy = np.convolve(audio.astype(np.float64) ** 2, np.ones(SAMPLE_RATE // 10), "valid")
    centre = int(np.argmax(energy))
    start = min(max(0, centre - SAMPLE_RATE // 2), len(audio) - SAMPLE_RATE)
    return audio[start : start + SAMPLE_RATE]


def demo_scenario() -> Scenario:
    """Alice hosts from the start; Bob joins muted and unmutes; Carol joins late, leaves early.
    Each says their sentence again and again, a pause after each saying, so that each is an
    utterance of its own and its transcript can be held against the sentence."""
    said = {s.name: {"say": s.sentence, "voice": s.voice} for s in SPEAKERS}
    return Scenario.model_validate(
        {
            "participants": [
                {"name": "Alice", "is_host": True, **said["Alice"], "leave_at": 14},
                {
                    "name": "Bob",
                    **said["Bob"],
                    "join_at": 0.5,
                    "leave_at": 14,
                    "muted": [(0.5, 4.0), (8.0, 10.0)],
                },
                {"name": "Carol", **said["Carol"], "join_at": 3.0, "leave_at": 12},
            ],
            "duration": DURATION,
        }
    )


async def run_demo(out_dir: Path, console: Console) -> dict[str, dict[str, float]]:
    """Run the demo; returns, per participant, how their stream matched each voice."""
    with tempfile.TemporaryDirectory(prefix="unmixed-demo-") as work:
        scenario = demo_scenario()
        voices = {
            p.name: soxr.resample(scenario_samples(p), SEND_RATE, SAMPLE_RATE)
            for p in scenario.participants
        }
        async with local_stack(Path(work), out_dir) as stack:
            console.print(
                f"[bold]Janus[/] {stack.janus.url}   [bold]API[/] {stack.api.url}   "
                f"[bold]receiver[/] {stack.receiver.url}"
            )
            async with TestbedMeeting(stack.janus.url, scenario) as meeting:
                console.print(f"[bold]meeting[/] {meeting.meeting_url}")
                bot = await stack.send_bot(
                    meeting.meeting_url, bot_name="unmixed demo", transcript=True
                )
                console.print(
                    f"[bold]bot[/] {bot.id} is {bot.status_changes[-1].code}; "
                    f"the meeting plays for {DURATION:.0f} s"
                )
                await meeting.play()
                logs = {name: p.log for name, p in meeting.participants.items()}
            bot = await stack.client.wait_for_status(bot.id, FINISHED, timeout=60)
            wavs = stack.receiver.write_wavs(out_dir)
            console.print(
                "status_changes: "
                + " -> ".join(
                    f"{c.code}" + (f" ({c.sub_code})" if c.sub_code else "")
                    for c in bot.status_changes
                )
            )
            matches = {
                p.name or str(p.id): voice_scores(_longest_stretch(p), voices)
                for p in stack.receiver.participants.values()
            }
            origin = bot.recordings[0].started_at if bot.recordings else None
            console.print(_summary(stack.receiver, logs, matches, origin))
            for name, path in wavs.items():
                console.print(f"  {name}: {path}")
            console.print(f"  events: {out_dir / 'events.jsonl'}")
            console.print(f"  transcripts: {out_dir}/*.transcript.txt (and .jsonl)")
            if bot.status_changes[-1].code != StatusCode.DONE:
                raise RuntimeError(f"the bot ended in {bot.status_changes[-1].code}")
    return matches


def _summary(
    receiver: AudioReceiver,
    logs: dict[str, ParticipantLog],
    matches: dict[str, dict[str, float]],
    recording_started: datetime | None,
) -> Table:
    sentences = {speaker.name: speaker.sentence for speaker in SPEAKERS}
    table = Table(title="Each participant's stream, as the receiver got it")
    for column in (
        "id",
        "name",
        "script (what they were given to say)",
        "voice heard in the stream",
        "messages",
        "seconds",
        "connections opened-closed (s into the recording)",
        "first audio after unmute",
        "words heard (last whole saying)",
        "WER (whole sayings)",
    ):
        table.add_column(column)
    for participant in sorted(receiver.participants.values(), key=lambda p: p.id):
        name = participant.name or ""
        origin = recording_started.timestamp() if recording_started else 0.0
        spans = ", ".join(
            f"{c.opened_at - origin:.2f}-{(c.closed_at or origin) - origin:.2f}"
            for c in participant.connections
        )
        table.add_row(
            str(participant.id),
            name,
            sentences.get(name, ""),
            _voice_heard(matches.get(name, {})),
            str(participant.messages),
            f"{participant.seconds:.2f}",
            spans,
            _first_audio_latency(participant, logs.get(name)),
            *_heard(
                receiver.transcripts.participants.get((participant.recording_id, participant.id)),
                sentences.get(name),
            ),
        )
    return table


def _heard(transcript: ParticipantTranscript | None, sentence: str | None) -> tuple[str, str]:
    """The last whole saying transcribed, and the word error rate over all of them."""
    if transcript is None or sentence is None:
        return "", ""
    length = len(normalised(sentence).split())
    whole = [
        line.text
        for line in transcript.finals
        if len(normalised(line.text).split()) >= WHOLE_SAYING * length
    ]
    if not whole:
        return "", "no whole saying"
    rate = word_error_rate(" ".join([sentence] * len(whole)), " ".join(whole))
    sayings = "1 saying" if len(whole) == 1 else f"{len(whole)} sayings"
    return whole[-1], f"{rate:.0%} ({sayings})"


def _voice_heard(scores: dict[str, float]) -> str:
    if not scores:
        return ""
    best = max(scores, key=scores.__getitem__)
    others = max((score for name, score in scores.items() if name != best), default=0.0)
    return f"{best} {scores[best]:.2f} (others <= {others:.2f})"


def _first_audio_latency(participant: ParticipantAudio, log: ParticipantLog | None) -> str:
    """Per connection: from the moment the participant's audio was switched on
    (publish, or unmute) to the receiver's first message of that connection."""
    if log is None:
        return ""
    return ", ".join(
        f"{latency * 1000:.0f} ms" for latency in first_audio_latencies(participant, log)
    )


def first_audio_latencies(participant: ParticipantAudio, log: ParticipantLog) -> list[float]:
    """Seconds from each switch-on to the first message of the connection it opened."""
    latencies = []
    for connection in participant.connections:
        first = connection.first_arrival
        before = [moment for moment in log.audio_on if first is not None and moment <= first]
        if first is not None and before:
            latencies.append(first - before[-1])
    return latencies
