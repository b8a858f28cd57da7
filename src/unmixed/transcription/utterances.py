"""One participant's audio, cut into utterances for Whisper to hear.

Whisper reads up to 30 s at once and invents text on silence ("Thank you."), so
it is given speech only: what the voice-activity detector of `speech_on` and
`speech_off` (`media.speech`, the same one: the bot runs one per participant and
hands its changes to both) says is speech, with a little audio either side
so first and last syllables are whole. An utterance ends when that detector
says speech stopped (half a second without voice), when the participant's
audio stops (a mute, a leave), or, for someone who never pauses, at its
quietest moment before 28 s. While an utterance goes on, a partial is cut every
`PARTIAL_EVERY` seconds: everything said of it so far. A transcription costs the same
half second of CPU however short the audio (Whisper always reads a 30 s window), so a
partial is not cut in a pause, when the final may be a moment away, and a sentence
shorter than `PARTIAL_EVERY` gets none.
"""

from dataclasses import dataclass

import numpy as np

from unmixed.media.segment import AudioChunk
from unmixed.media.speech import SpeechChange
from unmixed.wire.realtime import BYTES_PER_SAMPLE, SAMPLE_RATE

LEAD_SECONDS = 0.3
"""Audio kept before the first voiced frame: the detector's onset can clip a soft consonant."""
TAIL_SECONDS = 0.25
"""Audio kept after the last voiced frame, for the same reason at the end."""
PARTIAL_EVERY = 3.0
MAX_SECONDS = 28.0
"""Whisper's window is 30 s; an utterance this long is cut at its quietest point."""
QUIET_SEARCH_SECONDS = 3.0
"""Where that point is looked for: the last seconds before the limit."""
MIN_VOICE_SECONDS = 0.2
"""Shorter bursts (a click, a cough's edge) are not sent: Whisper would make words of them."""


@dataclass(frozen=True)
class Utterance:
    pcm: bytes
    """Mono S16LE at 16 kHz, from `started_at` on."""
    started_at: float
    """Unix time of the first sample, on the audio's capture clock."""
    voice: tuple[float, float]
    """When the detector heard voice in it, first to last (Unix times): Whisper's own
    times are loose at the edges, so words are kept within these."""
    final: bool

    @property
    def seconds(self) -> float:
        return len(self.pcm) / BYTES_PER_SAMPLE / SAMPLE_RATE


class UtteranceCutter:
    """Feed one participant's chunks in order, with their speech detector's changes; it
    hands back utterances to transcribe."""

    def __init__(self, *, partials: bool) -> None:
        self._partials = partials
        self._audio = bytearray()
        """While silent: the last `LEAD_SECONDS` and a little more; while speaking: the
        utterance so far, and whatever has been heard after its last voiced frame."""
        self._audio_at = 0.0
        self._speaking = False
        self._voice_from = 0.0
        self._next_partial = PARTIAL_EVERY

    def push(
        self, chunks: list[AudioChunk], changes: list[SpeechChange], *, pausing: bool
    ) -> list[Utterance]:
        """`chunks`, contiguous, and the detector's `changes` in them; `pausing`: whether
        the detector heard no voice in its last frame (no partial is cut in a pause)."""
        for chunk in chunks:
            if not self._audio:
                self._audio_at = chunk.captured_at
            self._audio += chunk.pcm
        cuts = [cut for change in changes for cut in self._on(change)]
        if self._speaking:
            cuts.extend(self._while_speaking(pausing=pausing))
        else:
            self._keep_lead(self._end_at - LEAD_SECONDS * 2)
        return cuts

    def end(self, changes: list[SpeechChange]) -> list[Utterance]:
        """Their audio stopped, and the detector said how their speech ended: what they
        were saying is final."""
        cuts = [cut for change in changes for cut in self._on(change)]
        self._audio.clear()
        return cuts

    @property
    def _end_at(self) -> float:
        return self._audio_at + len(self._audio) / BYTES_PER_SAMPLE / SAMPLE_RATE

    def _on(self, change: SpeechChange) -> list[Utterance]:
        if change.speaking:
            self._speaking = True
            self._voice_from = change.at
            self._next_partial = PARTIAL_EVERY
            self._keep_lead(change.at - LEAD_SECONDS)
            return []
        self._speaking = False
        cut = self._cut(change.at + TAIL_SECONDS, voice_until=change.at, final=True)
        return [cut] if change.at - self._voice_from >= MIN_VOICE_SECONDS else []

    def _while_speaking(self, *, pausing: bool) -> list[Utterance]:
        spoken = self._end_at - self._audio_at
        if spoken >= MAX_SECONDS:
            quietest = self._quietest_moment()
            cut = self._cut(quietest, voice_until=quietest, final=True)
            self._voice_from = self._audio_at
            self._next_partial = PARTIAL_EVERY
            return [cut]
        if self._partials and spoken >= self._next_partial and not pausing:
            self._next_partial += PARTIAL_EVERY
            audio = bytes(self._audio)
            return [self._utterance(audio, voice_until=self._end_at, final=False)]
        return []

    def _cut(self, until: float, *, voice_until: float, final: bool) -> Utterance:
        """The utterance up to Unix time `until`; the audio after it stays."""
        offset = self._offset(until)
        utterance = self._utterance(
            bytes(self._audio[:offset]), voice_until=voice_until, final=final
        )
        del self._audio[:offset]
        self._audio_at += offset / BYTES_PER_SAMPLE / SAMPLE_RATE
        return utterance

    def _utterance(self, pcm: bytes, *, voice_until: float, final: bool) -> Utterance:
        return Utterance(
            pcm=pcm,
            started_at=self._audio_at,
            voice=(max(self._voice_from, self._audio_at), voice_until),
            final=final,
        )

    def _keep_lead(self, since: float) -> None:
        """Drop what was heard before `since`."""
        offset = self._offset(since)
        del self._audio[:offset]
        self._audio_at += offset / BYTES_PER_SAMPLE / SAMPLE_RATE

    def _offset(self, moment: float) -> int:
        """The byte offset of Unix time `moment` in the buffer, within its bounds."""
        samples = round((moment - self._audio_at) * SAMPLE_RATE)
        return min(max(samples, 0) * BYTES_PER_SAMPLE, len(self._audio))

    def _quietest_moment(self) -> float:
        """The middle of the quietest 100 ms in the last `QUIET_SEARCH_SECONDS`."""
        window = SAMPLE_RATE // 10
        search = round(QUIET_SEARCH_SECONDS * SAMPLE_RATE) * BYTES_PER_SAMPLE
        tail = np.frombuffer(self._audio[-search:], dtype=np.int16).astype(np.float64)
        energy = np.concatenate([[0.0], np.cumsum(tail**2)])
        windows = energy[window:] - energy[:-window]
        quietest = len(self._audio) // BYTES_PER_SAMPLE - len(tail) + int(np.argmin(windows))
        return self._audio_at + (quietest + window // 2) / SAMPLE_RATE
