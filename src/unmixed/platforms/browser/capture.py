"""What the capture script in the page says, parsed: its protocol, with no I/O.

The page sends two kinds of message over the bot's local websocket. Binary
messages are PCM batches of one remote track, with the track's clock and the
sources of its packets; text messages are JSON signals: a track appeared or
changed, the roster changed, something failed. `parse_binary` and `parse_text`
turn them into the dataclasses below, or raise `CaptureProtocolError`.

The page is not trusted (a meeting site's scripts run beside ours): every field
is checked, and every moment is the bot's own clock at arrival, never a time
the page claims.
"""

import dataclasses
import json
import math
import struct
from dataclasses import dataclass
from importlib import resources

import numpy as np

from unmixed.platforms.browser.profiles import RosterSpec
from unmixed.platforms.browser.roster import RosterEntry, parse_snapshot, roster_source

HEADER = struct.Struct("<BBHIIdII")
"""version, reserved, track, sample_rate, samples, media_time_us,
contributing_source, ssrc: see js/capture.js."""
MAX_TRACK = 0xFFFF
MAX_MESSAGE_TEXT = 200
"""A page's error text is logged; no more of it than this."""
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
    media_time: float
    """The track's own clock at the first sample, in seconds (sample-continuous)."""
    arrived_at: float
    """Unix time at which the bot received the batch, just after its last sample."""
    contributing_source: int | None
    """The CSRC of the latest packet of the batch, where a mixer names one (Google Meet)."""
    ssrc: int | None
    """The SSRC of the track's packets: what identifies the stream on the wire."""


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
    """Unix time at which the bot learnt the roster took this shape."""


@dataclass(frozen=True, slots=True)
class PageFailed:
    message: str
    track: int | None = None


PageSignal = TrackOpened | TrackChanged | RosterChanged | PageFailed


def page_script(
    channel_url: str, roster: RosterSpec, batch_milliseconds: int = BATCH_MILLISECONDS
) -> str:
    """The script for `add_init_script`: capture and roster observer in one closure,
    configured to send to `channel_url`, with nothing of theirs left on `window`."""
    capture = resources.files("unmixed.platforms.browser").joinpath("js/capture.js").read_text()
    config = json.dumps(
        {"url": channel_url, "batchMs": batch_milliseconds, "roster": dataclasses.asdict(roster)}
    )
    body = capture.replace(CONFIG_PLACEHOLDER, config)
    return f"(() => {{\n{roster_source()}\n{body}\n}})();\n"


def parse_binary(message: bytes, arrived_at: float) -> PcmBatch:
    if len(message) < HEADER.size:
        raise CaptureProtocolError(f"a PCM message of {len(message)} bytes has no header")
    version, _, track, rate, count, media_us, csrc, ssrc = HEADER.unpack_from(message)
    if version != VERSION:
        raise CaptureProtocolError(f"capture protocol version {version}, expected {VERSION}")
    if not 0 < rate <= MAX_SAMPLE_RATE:
        raise CaptureProtocolError(f"sample rate {rate} is not a rate")
    if count == 0 or len(message) != HEADER.size + 2 * count:
        raise CaptureProtocolError(f"{len(message)} bytes do not hold {count} samples")
    if not math.isfinite(media_us):
        raise CaptureProtocolError("the batch's media time is not a number")
    return PcmBatch(
        track=_track(track),
        sample_rate=rate,
        samples=np.frombuffer(message, dtype="<i2", offset=HEADER.size, count=count),
        media_time=media_us / 1e6,
        arrived_at=arrived_at,
        contributing_source=csrc or None,
        ssrc=ssrc or None,
    )


def parse_text(message: str, arrived_at: float) -> PageSignal | None:
    """The signal in a JSON message; None for a kind this bot does not use."""
    try:
        fields = json.loads(message)
        match fields["type"]:
            case "track":
                track_id = str(fields["track_id"])[:MAX_MESSAGE_TEXT]
                muted = _flag(fields, "muted")
                return TrackOpened(_track(fields["track"]), track_id, _mid(fields), muted)
            case "track_state":
                muted, ended = _flag(fields, "muted"), _flag(fields, "ended")
                return TrackChanged(_track(fields["track"]), _mid(fields), muted, ended)
            case "roster":
                return RosterChanged(parse_snapshot(fields["entries"]), arrived_at)
            case "error":
                track = fields.get("track")
                text = str(fields["message"])[:MAX_MESSAGE_TEXT]
                return PageFailed(text, None if track is None else _track(track))
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise CaptureProtocolError(f"a signal from the page makes no sense: {error!r}") from error
    return None


def _track(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_TRACK:
        raise CaptureProtocolError("a track number must be an integer from 1 to 65535")
    return value


def _flag(fields: dict[str, object], name: str) -> bool:
    return fields.get(name) is True


def _mid(fields: dict[str, object]) -> str | None:
    mid = fields.get("mid")
    return None if mid is None else str(mid)[:MAX_MESSAGE_TEXT]
