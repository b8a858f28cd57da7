"""The browser bot's rules, fast: the capture protocol, its channel, and how each kind
of site's tracks and roster become participants and their audio."""

import asyncio
import json

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.recording import Heard
from unmixed.media import PcmFrame
from unmixed.platforms.base import (
    AudioStarted,
    AudioStopped,
    MeetingEvent,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
)
from unmixed.platforms.browser.capture import (
    HEADER,
    CaptureProtocolError,
    PageSignal,
    PcmBatch,
    RosterChanged,
    TrackChanged,
    TrackOpened,
    parse_binary,
    parse_text,
)
from unmixed.platforms.browser.channel import TRACKS_PER_CONNECTION, CaptureChannel
from unmixed.platforms.browser.resolvers import (
    SPEAKING_SIGNAL_LAG,
    ActiveSpeakerResolver,
    ContributingSourceResolver,
    PerTrackResolver,
)
from unmixed.platforms.browser.roster import RosterEntry

RATE = 48_000
BATCH = 2880
"""60 ms at 48 kHz."""


START = 1_700_000_000.0
"""When the first batch's first sample was captured, in these tests."""


def wire_batch(track: int, sequence: int, *, value: int = 1000, csrc: int = 0) -> bytes:
    media_us = (sequence - 1) * BATCH / RATE * 1e6
    header = HEADER.pack(1, 0, track, RATE, BATCH, media_us, csrc, 7)
    return header + np.full(BATCH, value, dtype="<i2").tobytes()


def batch(track: int, sequence: int, *, value: int = 1000, csrc: int = 0) -> PcmBatch:
    """The `sequence`th 60 ms batch of a track, arriving just as its last sample ends."""
    arrived_at = START + sequence * BATCH / RATE
    return parse_binary(wire_batch(track, sequence, value=value, csrc=csrc), arrived_at)


def opened(*tracks: int) -> list[TrackOpened]:
    return [TrackOpened(track, f"t{track}", str(track - 1), muted=False) for track in tracks]


def entry(key: str, **fields: object) -> RosterEntry:
    values: dict[str, object] = {"name": key.title(), "muted": False, "speaking": False}
    values.update(fields)
    return RosterEntry.from_page({"key": key, "host": False, **values})


def roster(at: float, *entries: RosterEntry) -> RosterChanged:
    return RosterChanged(list(entries), at)


class Recorder:
    def __init__(self) -> None:
        self.events: list[MeetingEvent | Heard] = []

    def __call__(self, event: MeetingEvent) -> None:
        self.events.append(event)

    def push_audio(self, key: str, frame: PcmFrame) -> None:
        self.events.append(Heard(key, frame))

    def take(self) -> list[MeetingEvent | Heard]:
        taken, self.events = self.events, []
        return taken

    def audio(self, key: str) -> list[Heard]:
        return [e for e in self.events if isinstance(e, Heard) and e.key == key]


def test_a_pcm_batch_is_parsed_with_its_clock_and_sources() -> None:
    parsed = batch(3, 2, value=-5, csrc=42)
    assert parsed.track == 3
    assert parsed.sample_rate == RATE
    assert parsed.samples.dtype == np.int16
    assert list(parsed.samples[:2]) == [-5, -5]
    assert parsed.media_time == pytest.approx(0.06)
    assert parsed.contributing_source == 42
    assert parsed.ssrc == 7


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (b"\x01\x00", "no header"),
        (wire_batch(1, 1)[:-2], "do not hold"),
        (b"\x02" + wire_batch(1, 1)[1:], "version 2"),
    ],
)
def test_a_malformed_batch_is_refused_with_the_reason(message: bytes, problem: str) -> None:
    with pytest.raises(CaptureProtocolError, match=problem):
        parse_binary(message, START)


def test_signals_are_parsed_and_unknown_kinds_ignored() -> None:
    opened = parse_text(
        json.dumps(
            {
                "type": "track",
                "track": 1,
                "track_id": "a",
                "mid": "0",
                "muted": True,
            }
        ),
        START,
    )
    assert opened == TrackOpened(1, "a", "0", muted=True)
    snapshot = parse_text(
        json.dumps(
            {
                "type": "roster",
                "t": 2500,
                "entries": [
                    {
                        "key": "9",
                        "name": "Ann",
                        "muted": True,
                        "speaking": False,
                        "host": True,
                        "track": "1",
                        "source": None,
                    },
                    {"name": "no key"},
                ],
            }
        ),
        START,
    )
    assert snapshot == RosterChanged([RosterEntry("9", "Ann", True, False, True, "1")], START)
    assert parse_text(json.dumps({"type": "news"}), START) is None


@pytest.mark.parametrize(
    "message",
    [
        "{not json",
        '{"type": "track", "track": 1e400, "track_id": "a"}',
        '{"type": "track", "track": 70000, "track_id": "a"}',
        '{"type": "track_state", "track": true}',
        '{"type": "error", "message": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
)
def test_a_hostile_signal_is_refused_not_raised(message: str) -> None:
    with pytest.raises(CaptureProtocolError):
        parse_text(message, START)


def test_a_roster_is_cut_to_what_a_meeting_can_hold() -> None:
    entries = [{"key": str(n), "name": "x" * 10_000} for n in range(5000)]
    change = parse_text(json.dumps({"type": "roster", "entries": entries}), START)
    assert isinstance(change, RosterChanged)
    assert len(change.entries) == 500
    assert {len(entry.name) for entry in change.entries} == {256}


async def test_the_channel_admits_only_its_token_and_names_tracks_per_connection() -> None:
    batches: list[PcmBatch] = []
    signals: list[PageSignal] = []
    three = asyncio.Event()

    def on_batch(parsed: PcmBatch) -> None:
        batches.append(parsed)
        if len(batches) == 3:
            three.set()

    async with CaptureChannel(on_batch, signals.append) as channel:
        with pytest.raises(InvalidStatus):
            async with connect(channel.url.rsplit("/", 1)[0] + "/guess"):
                pass
        for _ in range(2):
            async with connect(channel.url) as page:
                await page.send(
                    json.dumps(
                        {
                            "type": "track",
                            "track": 1,
                            "track_id": "t",
                            "mid": "0",
                            "muted": False,
                            "t": 0,
                        }
                    )
                )
                await page.send(b"junk")
                await page.send(wire_batch(1, 1))
                await page.close()
        async with connect(channel.url) as page:
            await page.send(wire_batch(1, 2))
            await page.close()
        async with asyncio.timeout(5):
            await three.wait()
    tracks = {b.track for b in batches}
    assert len(tracks) == 3, "the same number on two connections is two tracks"
    assert {t // TRACKS_PER_CONNECTION for t in tracks} == {0, 1, 2}
    assert [type(s) for s in signals] == [TrackOpened, TrackOpened]


def test_per_track_each_track_is_its_rosters_person() -> None:
    events = Recorder()
    resolver = PerTrackResolver(events, events.push_audio, "desktop")
    for track in opened(1, 2):
        resolver.on_track(track)
    resolver.on_roster(roster(1.0, entry("ann", track="0"), entry("bob", track="1")))
    joined = [e for e in events.take() if isinstance(e, ParticipantJoined)]
    assert [(j.participant.name, j.participant.separation) for j in joined] == [
        ("Ann", "per_participant"),
        ("Bob", "per_participant"),
    ]

    resolver.on_batch(batch(1, 1, value=100))
    resolver.on_batch(batch(2, 1, value=200))
    resolver.on_batch(batch(1, 2, value=100))
    assert [type(e) for e in events.events] == [
        AudioStarted,
        Heard,
        AudioStarted,
        Heard,
        Heard,
    ]
    assert {int(a.frame.samples[0, 0]) for a in events.audio("ann")} == {100}
    assert {int(a.frame.samples[0, 0]) for a in events.audio("bob")} == {200}
    first, second = events.audio("ann")
    assert second.frame.captured_at - first.frame.captured_at == pytest.approx(BATCH / RATE)
    events.take()

    resolver.on_roster(roster(2.0, entry("ann", track="0", muted=True), entry("bob", track="1")))
    resolver.on_batch(batch(1, 3))
    assert events.take() == [AudioStopped("ann")], "a muted person's frames are not theirs"
    resolver.on_roster(roster(3.0, entry("ann", track="0"), entry("bob", track="1")))
    resolver.on_batch(batch(1, 4))
    assert [type(e) for e in events.take()] == [AudioStarted, Heard]

    resolver.on_track(TrackChanged(2, "1", muted=True, ended=False))
    assert events.take() == [AudioStopped("bob")], "a track that stops stops its stream"
    resolver.on_roster(roster(4.0, entry("ann", track="0"), entry("cat", track="1")))
    assert [type(e) for e in events.take()] == [ParticipantLeft, ParticipantJoined]
    resolver.on_batch(batch(2, 5, value=300))
    assert [int(a.frame.samples[0, 0]) for a in events.audio("cat")] == [300], (
        "a reused mid belongs to whoever the roster now gives it to"
    )


def test_active_speaker_splits_the_mix_by_who_is_marked_speaking() -> None:
    events = Recorder()
    resolver = ActiveSpeakerResolver(events, events.push_audio, "desktop")
    resolver.on_track(*opened(1))
    start = START
    resolver.on_roster(roster(start, entry("ann"), entry("bob")))
    assert {
        e.participant.separation for e in events.take() if isinstance(e, ParticipantJoined)
    } == {"attributed"}
    resolver.on_roster(roster(start + 0.3, entry("ann", speaking=True), entry("bob")))
    resolver.on_roster(
        roster(start + 0.6, entry("ann", speaking=True), entry("bob", speaking=True))
    )
    for sequence in range(1, 20):
        resolver.on_batch(batch(1, sequence, value=sequence))
    held = 2  # a batch is judged 30 ms + the lag after its start: two batches later
    assert round((BATCH / RATE / 2 + SPEAKING_SIGNAL_LAG) / (BATCH / RATE)) - 1 == held
    ann = [int(a.frame.samples[0, 0]) for a in events.audio("ann")]
    bob = [int(a.frame.samples[0, 0]) for a in events.audio("bob")]
    assert len(ann) == len(bob) == 19 - held, "a batch waits for the indicators that judge it"
    # Batch n covers [(n-1)*60, n*60) ms; it is judged by the indicators 150 ms after its middle.
    assert ann[:2] == [0, 0], "nobody was speaking yet"
    assert ann[2:6] == [3, 4, 5, 6]
    assert bob[:7] == [0] * 7
    assert bob[7:] == ann[7:] == list(range(8, 20 - held)), "overlapping speech goes to both"
    captured = [a.frame.captured_at for a in events.audio("ann")]
    assert np.allclose(np.diff(captured), BATCH / RATE), "each stream's timeline is continuous"


def test_active_speaker_gives_a_muted_person_nothing() -> None:
    events = Recorder()
    resolver = ActiveSpeakerResolver(events, events.push_audio, None)
    resolver.on_track(*opened(1))
    start = START
    resolver.on_roster(roster(start, entry("ann", speaking=True), entry("bob", muted=True)))
    for sequence in range(1, 10):
        resolver.on_batch(batch(1, sequence))
    assert events.audio("bob") == []
    assert AudioStarted("bob") not in events.events
    resolver.on_roster(roster(start + 1, entry("ann", muted=True, speaking=True), entry("bob")))
    assert AudioStopped("ann") in events.events


def test_contributing_source_names_the_speaker_wherever_their_voice_travels() -> None:
    events = Recorder()
    resolver = ContributingSourceResolver(events, events.push_audio, "unknown")
    for track in opened(1, 2):
        resolver.on_track(track)
    resolver.on_roster(
        roster(
            0, entry("ann", source="11"), entry("bob", source="22"), entry("dial", speaking=True)
        )
    )
    separations = {
        e.participant.key: e.participant.separation
        for e in events.take()
        if isinstance(e, ParticipantJoined)
    }
    assert separations == {"ann": "per_participant", "bob": "per_participant", "dial": "attributed"}
    resolver.on_batch(batch(1, 1, value=1, csrc=11))
    resolver.on_batch(batch(2, 1, value=2, csrc=22))
    resolver.on_batch(batch(1, 2, value=3, csrc=22))
    resolver.on_batch(batch(2, 2, value=4, csrc=0))
    assert [int(a.frame.samples[0, 0]) for a in events.audio("ann")] == [1]
    assert [int(a.frame.samples[0, 0]) for a in events.audio("bob")] == [2, 3]
    assert [int(a.frame.samples[0, 0]) for a in events.audio("dial")] == [4], (
        "audio with no known source goes to whoever speaks without one"
    )
    resolver.on_roster(
        roster(1, entry("ann", source="11", name="Ann B"), entry("bob", source="22"))
    )
    assert ParticipantUpdated in {type(e) for e in events.events}
    assert ParticipantLeft("dial") in events.events
    events.take()
    resolver.on_batch(batch(9, 3, csrc=11))
    assert events.take() == [], "audio of a track the page never announced is nobody's"


def test_one_mixed_track_never_holds_up_another_and_nothing_is_held_for_long() -> None:
    events = Recorder()
    resolver = ActiveSpeakerResolver(events, events.push_audio, None)
    for track in opened(1, 2):
        resolver.on_track(track)
    resolver.on_roster(roster(START, entry("ann", speaking=True)))
    resolver.on_batch(parse_binary(wire_batch(2, 1, value=-1), START + BATCH / RATE))
    for sequence in range(1, 10):
        resolver.on_batch(batch(1, sequence, value=sequence))
    heard = [int(a.frame.samples[0, 0]) for a in events.audio("ann")]
    assert heard == list(range(1, 8)), "track 2, silent since, holds nothing of track 1 up"
    resolver.on_batch(parse_binary(wire_batch(2, 1_000_000, value=-2), START + 5))
    assert int(events.audio("ann")[-1].frame.samples[0, 0]) == -1, (
        "a batch is judged once its own track moves on, and its clock jumping does not hold it"
    )
