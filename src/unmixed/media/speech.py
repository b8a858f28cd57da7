"""When a participant starts and stops speaking, from their own 16 kHz audio.

WebRTC's voice-activity detector (`webrtcvad`, a small C library, no model to
download) judges each 20 ms frame. One voiced frame is not speech (a click, a
cough's edge), so speech starts when most of the last five frames are voiced,
dated at the first voiced one of them: the event is about 60-100 ms behind the
voice, its timestamp is not. Speech stops after half a second without a voiced
frame, dated at the end of the last voiced one (which the detector's own
hangover can place up to about 130 ms after the voice): pauses between words do
not end it. Timestamps are the audio's own capture times, so they line up with the
participant's audio on the recording's timeline.
"""

from collections import deque
from dataclasses import dataclass

import webrtcvad

from unmixed.media.segment import AudioChunk
from unmixed.wire.realtime import BYTES_PER_SAMPLE, SAMPLE_RATE

FRAME_SAMPLES = SAMPLE_RATE // 50
FRAME_BYTES = FRAME_SAMPLES * BYTES_PER_SAMPLE
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
AGGRESSIVENESS = 2
"""0 (lenient) to 3 (strict) about what counts as voice; 2 leaves codec noise out."""
ONSET_WINDOW = 5
ONSET_VOICED = 3
OFFSET_SILENT_FRAMES = 25
"""Half a second without voice ends speech."""


@dataclass(frozen=True)
class SpeechChange:
    speaking: bool
    at: float
    """Unix time, on the audio's capture clock: the first voiced sample, or the end
    of the last one."""


class SpeechDetector:
    """Feed one participant's chunks in order; it says when their speech starts and stops."""

    def __init__(self) -> None:
        self._vad = webrtcvad.Vad(AGGRESSIVENESS)
        self._pending = b""
        self._pending_at = 0.0
        self._recent: deque[tuple[bool, float]] = deque(maxlen=ONSET_WINDOW)
        self._speaking = False
        self._silent_frames = 0
        self._last_voice_end = 0.0

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def pausing(self) -> bool:
        """Speaking, but the last frame judged was not voiced: speech may be ending."""
        return self._speaking and self._silent_frames > 0

    def push(self, chunk: AudioChunk) -> list[SpeechChange]:
        data = chunk.pcm
        if not self._pending:
            self._pending_at = chunk.captured_at
        data = self._pending + data
        changes = []
        whole = len(data) - len(data) % FRAME_BYTES
        for offset in range(0, whole, FRAME_BYTES):
            at = self._pending_at + offset // BYTES_PER_SAMPLE / SAMPLE_RATE
            voiced = self._vad.is_speech(data[offset : offset + FRAME_BYTES], SAMPLE_RATE)
            change = self._judge(voiced, at)
            if change is not None:
                changes.append(change)
        self._pending = data[whole:]
        self._pending_at += whole // BYTES_PER_SAMPLE / SAMPLE_RATE
        return changes

    def end(self) -> list[SpeechChange]:
        """The participant's audio stops (a mute, a leave): so does their speech."""
        self._pending = b""
        self._recent.clear()
        self._silent_frames = 0
        if not self._speaking:
            return []
        self._speaking = False
        return [SpeechChange(speaking=False, at=self._last_voice_end)]

    def _judge(self, voiced: bool, at: float) -> SpeechChange | None:
        self._recent.append((voiced, at))
        if voiced:
            self._last_voice_end = at + FRAME_SECONDS
            self._silent_frames = 0
        else:
            self._silent_frames += 1
        if not self._speaking and sum(v for v, _ in self._recent) >= ONSET_VOICED:
            self._speaking = True
            first_voiced = next(moment for v, moment in self._recent if v)
            return SpeechChange(speaking=True, at=first_voiced)
        if self._speaking and self._silent_frames >= OFFSET_SILENT_FRAMES:
            self._speaking = False
            self._recent.clear()
            return SpeechChange(speaking=False, at=self._last_voice_end)
        return None
