"""Media: platform PCM in, the contract's 16 kHz mono S16LE chunks out, on one timeline."""

from unmixed.media.frames import Clock, PcmFrame
from unmixed.media.segment import AudioChunk, AudioSegment, TimelineBreak

__all__ = ["AudioChunk", "AudioSegment", "Clock", "PcmFrame", "TimelineBreak"]
