"""What the capture script in the page says, parsed: its protocol, with no I/O.

The page sends two kinds of message over the bot's local websocket. Binary
messages are PCM batches of one remote track, with the track's clock and the
sources of its packets; text messages are JSON signals: a track appeared or
changed, the roster changed, something failed. `parse_binary` and `parse_text`
turn them into the dataclasses below, or raise `CaptureProtocolError`.
"""

import json
import struct
from dataclasses import dataclass
from importlib import resources

import numpy as np

from unmixed.platforms.browser.roster import RosterEntry, parse_snapshot

HEADER = struct.Struct("<BBHIIIddII")
"""version, reserved, track, sample_rate, samples, sequence, media_time_us,
emitted_ms, contributing_source, ssrc: see js/capture.js."""
VERSION = 1
MAX_SAMPLE_RATE = 192_000
CONFIG_PLACEHOLDER = "__UNMIXED_CAPTURE_CONFIG__"
BATCH_MILLISECONDS = 60
"""How much audio the page gathers per message: each message costs a copy to
Playwright's driver, and waiting adds latency; 60 ms keeps both small."""


class CaptureProtocolError(ValueError):
    """A message from the page that does not follow the capture protocol."""


@dataclass(frozen=True, slots=True)
class PcmBatch:
    """Consecutive samples of one remote track, as the page decoded them."""

    track: int
    sample_rate: int
    samples: np.ndarray
    """int16, mono."""
    sequence: int
    media_time: float
    """The track's own clock at the first sample, in seconds (sample-continuous)."""
    emitted_at: float
    """Unix time at which the page sent the batch, just after its last sample."""
    contributing_source: int | None
    """The CSRC of the latest packet, where a mixer names one (Google Meet)."""
    ssrc: int | None


@dataclass(frozen=True, slots=True)
class TrackOpened:
    track: int
    track_id: str
    mid: str | None
    muted: bool


@dataclass(frozen=True, slots=True)
class TrackChanged:
    track: int
    mid: str | None
    muted: bool
    ended: bool


@dataclass(frozen=True, slots=True)
class RosterChanged:
    entries: list[RosterEntry]
    at: float
    """Unix time at which the page's roster took this shape."""


@dataclass(frozen=True, slots=True)
class PageFailed:
    message: str
    track: int | None = None


PageSignal = TrackOpened | TrackChanged | RosterChanged | PageFailed


def capture_script(channel_url: str, batch_milliseconds: int = BATCH_MILLISECONDS) -> str:
    """The capture script, configured to send to `channel_url`."""
    source = resources.files("unmixed.platforms.browser").joinpath("js/capture.js").read_text()
    config = json.dumps({"url": channel_url, "batchMs": batch_milliseconds})
    return source.replace(CONFIG_PLACEHOLDER, config)


def parse_binary(message: bytes) -> PcmBatch:
    if len(message) < HEADER.size:
        raise CaptureProtocolError(f"a PCM message of {len(message)} bytes has no header")
    (version, _, track, rate, count, sequence, media_us, emitted_ms, csrc, ssrc) = (
        HEADER.unpack_from(message)
    )
    if version != VERSION:
        raise CaptureProtocolError(f"capture protocol version {version}, expected {VERSION}")
    if not 0 < rate <= MAX_SAMPLE_RATE:
        raise CaptureProtocolError(f"sample rate {rate} is not a rate")
    if len(message) != HEADER.size + 2 * count:
        raise CaptureProtocolError(f"{len(message)} bytes do not hold {count} samples")
    return PcmBatch(
        track=track,
        sample_rate=rate,
        samples=np.frombuffer(message, dtype="<i2", offset=HEADER.size, count=count),
        sequence=sequence,
        media_time=media_us / 1e6,
        emitted_at=emitted_ms / 1e3,
        contributing_source=csrc or None,
        ssrc=ssrc or None,
    )


def parse_text(message: str) -> PageSignal | None:
    """The signal in a JSON message; None for a kind this bot does not use."""
    try:
        fields = json.loads(message)
        kind = fields["type"]
        match kind:
            case "track":
                return TrackOpened(
                    int(fields["track"]),
                    str(fields["track_id"]),
                    _mid(fields),
                    bool(fields["muted"]),
                )
            case "track_state":
                return TrackChanged(
                    int(fields["track"]), _mid(fields), bool(fields["muted"]), bool(fields["ended"])
                )
            case "roster":
                return RosterChanged(parse_snapshot(fields["entries"]), float(fields["t"]) / 1e3)
            case "error":
                track = fields.get("track")
                return PageFailed(str(fields["message"]), int(track) if track else None)
    except (ValueError, KeyError, TypeError) as error:
        raise CaptureProtocolError(f"a signal from the page makes no sense: {error}") from error
    return None


def _mid(fields: dict[str, object]) -> str | None:
    mid = fields.get("mid")
    return None if mid is None else str(mid)
