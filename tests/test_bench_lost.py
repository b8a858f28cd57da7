"""The fleet bench's lost samples: expected minus received, zero for a healthy stream."""

import pytest

from unmixed.bench.lost import EDGE_MARGIN, SenderClock, _message_ranges, relayed_spells, tally
from unmixed.receiver.tracks import Arrival
from unmixed.testbed.participant import ParticipantLog

RATE = 16_000


def messages(start: float, end: float, each: float = 0.04) -> list[tuple[int, int]]:
    """A connection's messages, `each` seconds long, from `start` to `end` seconds."""
    first, last, step = round(start * RATE), round(end * RATE), round(each * RATE)
    return [(at, min(at + step, last)) for at in range(first, last, step)]


def test_a_stream_that_carried_everything_lost_nothing() -> None:
    counted = tally([(0.0, 10.0)], [messages(0, 10)])
    assert counted.expected == round((10 - 2 * EDGE_MARGIN) * RATE)
    assert counted.lost == 0


def test_messages_may_come_in_any_size_and_order() -> None:
    counted = tally([(0.0, 10.0)], [[*messages(5, 10, 0.5), *messages(0, 5, 0.07)[::-1]]])
    assert counted.lost == 0


def test_a_hole_inside_a_connection_is_lost_inside() -> None:
    counted = tally([(0.0, 10.0)], [[*messages(0, 4), *messages(5, 10)]])
    assert counted.lost == counted.lost_inside == RATE


def test_a_bot_that_delivered_nothing_lost_all_it_should_have_heard() -> None:
    counted = tally([(1.0, 4.0), (5.0, 10.0)], [])
    assert counted.received == 0
    assert counted.lost == round((3 + 5 - 4 * EDGE_MARGIN) * RATE)
    assert counted.lost_inside == 0


def test_before_the_first_sample_the_bot_was_subscribing_not_losing() -> None:
    counted = tally([(0.0, 10.0)], [messages(1.2, 10)])
    assert counted.expected == round((10 - 1.2 - 2 * EDGE_MARGIN) * RATE)
    assert counted.lost == 0


def test_muted_time_is_not_expected_and_edges_have_a_margin() -> None:
    counted = tally([(0.0, 4.0), (6.0, 10.0)], [messages(0, 4.02), messages(6.1, 10.02)])
    assert counted.lost == 0


def test_a_connection_that_opened_a_second_late_lost_at_its_edge() -> None:
    counted = tally([(0.0, 4.0), (6.0, 10.0)], [messages(0, 4), messages(7, 10)])
    assert counted.lost == round((1 - EDGE_MARGIN) * RATE)
    assert counted.lost_inside == 0


def test_spells_run_from_each_time_audio_came_on_to_the_next_mute_or_the_leave() -> None:
    log = ParticipantLog(audio_on=[1.0, 10.0], mutes=[5.0], left_at=20.0)
    assert relayed_spells(log, until=30.0) == [(1.0, 5.0), (10.0, 20.0)]


def test_a_participant_who_joined_muted_is_expected_from_their_unmute() -> None:
    log = ParticipantLog(audio_on=[4.0], mutes=[1.0, 8.0])
    assert relayed_spells(log, until=12.0) == [(4.0, 8.0)]


def test_nothing_is_expected_before_the_recording_began() -> None:
    counted = tally([(-3.0, 2.0)], [])
    assert counted.expected == round((2.0 - EDGE_MARGIN) * RATE)


def test_a_speaker_that_fell_behind_is_placed_by_its_own_clock() -> None:
    """Beeps a second apart on the speaker's clock left 0, 0.5, 0.2 and 0 s late: a frame
    that left between two of them was as late as they say, in proportion."""
    clock = SenderClock([100.0, 101.5, 102.2, 103.0])
    assert list(clock.beeps) == pytest.approx([100.0, 101.0, 102.0, 103.0])
    assert clock.at(101.5) == pytest.approx(101.0)
    assert clock.at(101.85) == pytest.approx(101.85 - 0.35)
    assert clock.at(104.0) == pytest.approx(104.0)


def test_a_speaker_that_never_beeped_keeps_wall_time() -> None:
    assert SenderClock([]).at(5.0) == 5.0


def test_messages_of_a_connection_starting_between_samples_leave_no_holes() -> None:
    """A connection half a sample off the recording's grid, its `relative`s a microsecond
    either way (the wire's precision): no one-sample holes or overlaps."""
    start = 10.0 + 0.5 / RATE
    arrivals = [
        Arrival(
            arrived_at=0.0,
            relative=round(start + index * 0.04 + (index % 2) * 1e-6, 6),
            captured_at=0.0,
            samples=640,
        )
        for index in range(20)
    ]
    ranges = _message_ranges(arrivals)
    assert all(end == ranges[index + 1][0] for index, (_, end) in enumerate(ranges[:-1]))
