"""The client's side: a websocket server that takes unmixed's per-participant streams.

`unmixed receive` runs it with a live table; the demo, the benchmark and the
tests use `AudioReceiver` directly, so they check exactly what a user would get.
"""

from unmixed.receiver.server import AudioReceiver, ConnectionRecord, ParticipantAudio

__all__ = ["AudioReceiver", "ConnectionRecord", "ParticipantAudio"]
