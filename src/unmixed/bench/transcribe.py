"""One bot in a meeting of people saying sentences, run without a transcript and then with
one: what live transcription costs the bot, how soon the text follows the speech, and
how close it is to what was said.

Each speaker says a short sentence of common words (espeak-ng, two voices) every
`SENTENCE_EVERY` seconds, the speakers staggered so that their sentences end at
different moments, as in a meeting, rather than all reaching the one model at once.
The same meeting is played twice, each time on a new stack, and the bot's process is
watched as `single.py` watches it, so the two runs differ by the transcript alone.

A sentence's latency runs from the end of its voice to the arrival of the last final
that covers it: when the receiver has the whole sentence as text. The end of the voice
is found in the audio the receiver got, on the recording's timeline, and placed in
Unix time by the recording's start; the bot dates audio at the speaker's capture
(late by tens of milliseconds at most, which the fleet bench measures), so this is
close to when the speaker stopped.
"""

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unmixed.bench.lost import recording_origin
from unmixed.bench.process_watch import ProcessTreeWatch, bot_process, watch_while_speaking
from unmixed.local import FINISHED, local_stack
from unmixed.receiver import AudioReceiver, ConnectionRecord
from unmixed.receiver.transcripts import Line
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario, ScenarioParticipant
from unmixed.testbed.speech import spoken_track, voiced_spans
from unmixed.transcription.accuracy import word_error_rate

MODEL = "tiny.en"
"""What Recall's `recallai_streaming`, which the bench asks for, runs here."""

VOICES = ("en-us+f3", "en-gb+m3")
SENTENCES = (
    "Let us meet again next week.",
    "The new plan looks good to me.",
    "Can you send me the report today?",
    "We need more time for this project.",
    "I think the team did a great job.",
    "Please call me after lunch.",
    "The meeting starts at ten tomorrow.",
    "Thank you all for coming today.",
    "Our sales went up this month.",
    "Who will write the next update?",
    "I have a question about the budget.",
    "We should talk to the customer first.",
)
"""No commas: a pause inside a sentence could end the utterance there."""
LONGEST_SENTENCE = 2.6
"""Seconds, the longest of `SENTENCES` in either voice, silence at its end included."""
SENTENCE_EVERY = 4.0
"""From the start of one of a speaker's sentences to the next: 1.4 s of pause at least,
which ends an utterance (0.5 s does) and keeps sentences apart in `voiced_spans`."""
SPAN_GAP = 1.0
"""Joins the voice across pauses shorter than this: one span per sentence."""
FIRST_AT = 1.0
QUIET_AT_END = 2.0
"""Seconds between a speaker's last sentence and their leaving: its final comes while
they are still there."""
MIN_SECONDS = 10.0
"""Enough for the last of 30 speakers, a fraction of `SENTENCE_EVERY` late, to say one."""
MATCH_TOLERANCE = 0.5
"""How far from a sentence's voice a final may lie and still be taken for that sentence's
(Whisper's word times are loose at the edges)."""

Script = dict[str, list[tuple[str, float]]]
"""Each speaker's sentences, with the second of their track at which each starts."""


def speech_script(participants: int, seconds: float) -> Script:
    """What each of `participants` speakers says in `seconds` (at least `MIN_SECONDS`)."""
    last_start = seconds - QUIET_AT_END - LONGEST_SENTENCE
    script: Script = {}
    for index in range(participants):
        first = FIRST_AT + SENTENCE_EVERY * index / participants
        count = int((last_start - first) // SENTENCE_EVERY) + 1
        script[f"speaker-{index + 1}"] = [
            (SENTENCES[(n * participants + index) % len(SENTENCES)], first + n * SENTENCE_EVERY)
            for n in range(count)
        ]
    return script


@dataclass(frozen=True)
class SentenceTimes:
    """How one participant's finals lined up with the sentences heard in their audio."""

    latencies: list[float]
    """Per sentence some final covered: seconds from the end of its voice to the arrival
    of the last final covering it."""
    unheard: int
    """Sentences no final covered."""
    strays: int
    """Finals that covered no sentence: words made of silence, or of a voice not found."""


def sentence_times(
    spans: list[tuple[float, float]], finals: list[Line], origin: float
) -> SentenceTimes:
    """Each final is taken for the sentence (voiced span, on the recording's timeline) it
    overlaps most, or lies nearest to within `MATCH_TOLERANCE`; `origin` is the Unix time
    of the timeline's 0, on the receiver's clock, where finals' `arrived_at` are."""
    last_arrival: dict[int, float] = {}
    strays = 0
    for line in finals:
        # Negative: how much they overlap; positive: how far apart they are.
        gaps = [max(line.start, start) - min(line.end, end) for start, end in spans]
        nearest = min(range(len(spans)), key=lambda index: gaps[index], default=None)
        if nearest is None or gaps[nearest] > MATCH_TOLERANCE:
            strays += 1
            continue
        last_arrival[nearest] = max(last_arrival.get(nearest, line.arrived_at), line.arrived_at)
    latencies = [
        arrived - (origin + spans[index][1]) for index, arrived in sorted(last_arrival.items())
    ]
    return SentenceTimes(latencies, len(spans) - len(last_arrival), strays)


@dataclass(frozen=True)
class ParticipantHeard:
    """One participant's transcript, against their script and their audio."""

    voice: str
    finals: int
    wer: float
    times: SentenceTimes


@dataclass(frozen=True)
class TranscribeRun:
    watch: ProcessTreeWatch
    sentences: int
    """Voiced spans in the received audio, all participants: the sentences that reached
    the receiver."""
    heard: dict[str, ParticipantHeard] | None
    """By participant name; None when no transcript was asked for."""
    audio_holdups: list[float]
    """Per audio message, every participant's: seconds it arrived later than the
    quickest message of its connection (capture to arrival, less the least of that).
    Transcription must not move these. The least itself is left out: it holds how the
    bot anchored the stream's clock, which moves by tens of ms from run to run."""


@dataclass(frozen=True)
class TranscribeFigures:
    script: Script
    runs: dict[str, TranscribeRun]


async def measure_transcribe(participants: int, seconds: float) -> TranscribeFigures:
    """The same meeting of `participants` speakers, without a transcript, then with one."""
    script = speech_script(participants, seconds)
    with tempfile.TemporaryDirectory(prefix="unmixed-bench-") as work:
        scenario = _scenario(Path(work), script, seconds)
        runs: dict[str, TranscribeRun] = {}
        for label, transcribe in [("without transcript", False), (f"with {MODEL}", True)]:
            folder = Path(work) / label.replace(" ", "-")
            folder.mkdir()
            runs[label] = await _run(folder, scenario, script, seconds, transcribe=transcribe)
    return TranscribeFigures(script, runs)


def _holdups(connection: ConnectionRecord) -> list[float]:
    delays = [arrival.arrived_at - arrival.captured_at for arrival in connection.arrivals]
    quickest = min(delays, default=0.0)
    return [delay - quickest for delay in delays]


def _voice(index: int) -> str:
    return VOICES[index % len(VOICES)]


def _scenario(folder: Path, script: Script, seconds: float) -> Scenario:
    return Scenario(
        participants=[
            ScenarioParticipant(
                name=name,
                audio=spoken_track(folder, name, _voice(index), lines, seconds),
                leave_at=seconds,
            )
            for index, (name, lines) in enumerate(script.items())
        ],
        duration=seconds + 1,
    )


async def _run(
    work: Path, scenario: Scenario, script: Script, seconds: float, *, transcribe: bool
) -> TranscribeRun:
    async with local_stack(work) as stack:
        async with TestbedMeeting(stack.janus.url, scenario) as meeting:
            bot = await stack.send_bot(meeting.meeting_url, bot_name="bench", transcript=transcribe)
            watching = asyncio.create_task(watch_while_speaking([bot_process(bot.id)], seconds))
            await meeting.play()
            (watch,) = (await watching).watches
        await stack.client.wait_for_status(bot.id, FINISHED, timeout=60)
    return _figures(stack.receiver, script, watch, transcribe=transcribe)


def _figures(
    receiver: AudioReceiver, script: Script, watch: ProcessTreeWatch, *, transcribe: bool
) -> TranscribeRun:
    audio = {name: receiver.participant(name) for name in script}
    spans = {name: voiced_spans(heard.timeline(), SPAN_GAP) for name, heard in audio.items()}
    sentences = sum(len(found) for found in spans.values())
    delays = [_holdups(connection) for heard in audio.values() for connection in heard.connections]
    holdups = [holdup for connection in delays for holdup in connection]
    if not transcribe:
        return TranscribeRun(watch, sentences, None, holdups)
    origin = next(o for heard in audio.values() if (o := recording_origin(heard)) is not None)
    transcripts = {t.name: t for t in receiver.transcripts.participants.values()}
    heard: dict[str, ParticipantHeard] = {}
    for index, (name, lines) in enumerate(script.items()):
        transcript = transcripts.get(name)
        finals = transcript.finals if transcript is not None else []
        heard[name] = ParticipantHeard(
            voice=_voice(index),
            finals=len(finals),
            wer=word_error_rate(
                " ".join(text for text, _ in lines), " ".join(line.text for line in finals)
            ),
            times=sentence_times(spans[name], finals, origin),
        )
    return TranscribeRun(watch, sentences, heard, holdups)
