"""The transcription bench's arithmetic: its script keeps each speaker's sentences apart and
inside the meeting, and each final is counted against the sentence it covers."""

import itertools
from pathlib import Path

import pytest

from unmixed.bench.transcribe import (
    LONGEST_SENTENCE,
    MIN_SECONDS,
    QUIET_AT_END,
    SENTENCE_EVERY,
    SENTENCES,
    VOICES,
    sentence_times,
    speech_script,
)
from unmixed.receiver.transcripts import Line
from unmixed.testbed.audio import SEND_RATE, load_wav
from unmixed.testbed.speech import synthesize


def final(start: float, end: float, arrived_at: float) -> Line:
    return Line(text="words", start=start, end=end, final=True, arrived_at=arrived_at)


def test_a_sentence_is_timed_to_the_last_final_covering_it() -> None:
    """Two finals for one sentence: the later arrival counts. A final spanning two sentences
    is the one's it overlaps most; a one-word final just past a sentence is still its; a
    final far from any voice is a stray; a sentence with none is unheard."""
    spans = [(1.0, 3.0), (5.0, 7.5), (9.0, 11.0)]
    origin = 1000.0
    finals = [
        final(1.1, 2.9, arrived_at=1003.8),
        final(2.5, 5.2, arrived_at=1004.0),  # 0.5 s on the first, 0.2 s on the second
        final(5.0, 6.0, arrived_at=1006.9),
        final(6.2, 7.4, arrived_at=1008.7),
        final(7.9, 7.9, arrived_at=1008.5),  # 0.4 s past the second's voice
        final(13.0, 13.5, arrived_at=1014.0),
    ]

    times = sentence_times(spans, finals, origin)

    assert times.latencies == pytest.approx([1.0, 1.2])
    assert times.unheard == 1
    assert times.strays == 1


def test_finals_with_no_voice_heard_are_all_strays() -> None:
    times = sentence_times([], [final(1.0, 2.0, arrived_at=1.0)], origin=0.0)

    assert (times.latencies, times.unheard, times.strays) == ([], 0, 1)


@pytest.mark.parametrize(("participants", "seconds"), [(3, 40.0), (30, MIN_SECONDS), (1, 12.5)])
def test_the_script_keeps_sentences_apart_and_before_the_speakers_leave(
    participants: int, seconds: float
) -> None:
    script = speech_script(participants, seconds)

    assert list(script) == [f"speaker-{index + 1}" for index in range(participants)]
    firsts = [lines[0][1] for lines in script.values()]
    assert len(set(firsts)) == participants, "speakers start apart"
    for lines in script.values():
        starts = [at for _, at in lines]
        assert starts, "everyone says something"
        assert all(b - a == pytest.approx(SENTENCE_EVERY) for a, b in itertools.pairwise(starts))
        assert starts[-1] + LONGEST_SENTENCE <= seconds - QUIET_AT_END
        assert starts[-1] + SENTENCE_EVERY + LONGEST_SENTENCE > seconds - QUIET_AT_END
        assert {text for text, _ in lines} <= set(SENTENCES)


def test_no_sentence_is_longer_than_the_script_allows(tmp_path: Path) -> None:
    """The script spaces sentences by `LONGEST_SENTENCE`: a longer one would run into the
    pause that ends it, or into the speaker's next."""
    for voice in VOICES:
        for index, sentence in enumerate(SENTENCES):
            audio = load_wav(synthesize(sentence, voice, tmp_path / f"{voice}-{index}.wav"))
            assert len(audio) / SEND_RATE <= LONGEST_SENTENCE, (voice, sentence)
