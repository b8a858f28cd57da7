"""How close a transcript is to what was said: word error rate, as speech tests count it."""

import re

import jiwer


def normalised(text: str) -> str:
    """Lower case, letters, digits and apostrophes only: punctuation and case are the
    model's style, not its errors."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def word_error_rate(said: str, heard: str) -> float:
    """(substitutions + deletions + insertions) / words said; 1.0 when nothing was heard."""
    reference, hypothesis = normalised(said), normalised(heard)
    if not hypothesis:
        return 1.0 if reference else 0.0
    return float(jiwer.wer(reference, hypothesis))
