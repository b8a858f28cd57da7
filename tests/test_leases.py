"""Dispatch, claim, leases and commands in the store: each atomic on SQLite and on
PostgreSQL, checked with processes' worth of threads racing for the same bots."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tests.stored import NOBODYS_MEETING, new_bot
from unmixed.store import ENVIRONMENT_KEY, Bots, open_database
from unmixed.store.leases import Leases, LeaveAsked
from unmixed.store.repository import TRANSCRIBING_BOT_SLOTS, NoFreeSlot, SlotLimit
from unmixed.wire.bots import BotCreate
from unmixed.wire.status import StatusCode, SubCode

LEASE = timedelta(seconds=15)
RACERS = 4
BOTS = 25


def race(
    store_url: str, attempt: Callable[[Leases, str], bool], bot_ids: list[str]
) -> list[set[str]]:
    """`RACERS` threads, each with its own engine (its own connections, as a process
    would have), try `attempt` on every bot at once; the bots each of them won."""
    start = threading.Barrier(RACERS)

    def racer(_: int) -> set[str]:
        database = open_database(store_url)
        try:
            leases = Leases(database)
            start.wait()
            return {bot_id for bot_id in bot_ids if attempt(leases, bot_id)}
        finally:
            database.engine.dispose()

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(racer, range(RACERS)))


def assert_each_won_once(winners: list[set[str]], bot_ids: list[str]) -> None:
    assert sum(len(won) for won in winners) == len(bot_ids), "a bot was won twice"
    assert set().union(*winners) == set(bot_ids), "a bot was won by nobody"


def codes(bots: Bots, bot_id: str) -> list[tuple[str, str | None]]:
    bot = bots.get(bot_id)
    assert bot is not None
    return [(change.code, change.sub_code) for change in bot.status_changes]


def test_racing_claimers_claim_each_bot_once(store_url: str, bots: Bots) -> None:
    bot_ids = [new_bot(bots) for _ in range(BOTS)]
    winners = race(store_url, lambda leases, bot_id: leases.claim(bot_id, "racer", LEASE), bot_ids)
    assert_each_won_once(winners, bot_ids)
    for bot_id in bot_ids:
        assert codes(bots, bot_id) == [(StatusCode.READY, None), (StatusCode.JOINING_CALL, None)]


def test_racing_schedulers_dispatch_each_bot_once(store_url: str, bots: Bots) -> None:
    bot_ids = [new_bot(bots) for _ in range(BOTS)]
    winners = race(store_url, lambda leases, bot_id: leases.mark_dispatched(bot_id), bot_ids)
    assert_each_won_once(winners, bot_ids)


def test_an_expired_lease_is_declared_lost_once(store_url: str, bots: Bots, leases: Leases) -> None:
    bot_ids = [new_bot(bots) for _ in range(BOTS)]
    for bot_id in bot_ids:
        assert leases.claim(bot_id, "gone", timedelta(seconds=-1))
    assert set(leases.expired()) == set(bot_ids)
    winners = race(store_url, lambda leases, bot_id: leases.declare_lost(bot_id), bot_ids)
    assert_each_won_once(winners, bot_ids)
    for bot_id in bot_ids:
        assert codes(bots, bot_id)[-1] == (StatusCode.FATAL, SubCode.BOT_PROCESS_LOST)
        assert [code for code, _ in codes(bots, bot_id)].count(StatusCode.FATAL) == 1
    assert leases.expired() == []


def test_a_live_lease_is_not_declared_lost_and_renewing_keeps_it(
    bots: Bots, leases: Leases
) -> None:
    bot_id = new_bot(bots)
    assert leases.claim(bot_id, "alive", LEASE)
    assert not leases.declare_lost(bot_id)
    renewal = leases.renew(bot_id, LEASE, stream_reconnects=2)
    assert (renewal.held, renewal.leave_requested) == (True, False)
    assert leases.expired() == []


def test_a_bot_declared_lost_learns_it_when_it_renews(bots: Bots, leases: Leases) -> None:
    bot_id = new_bot(bots)
    assert leases.claim(bot_id, "slow", timedelta(seconds=-1))
    assert leases.declare_lost(bot_id)
    assert not leases.renew(bot_id, LEASE, stream_reconnects=0).held
    assert not bots.change_status(bot_id, StatusCode.IN_CALL_RECORDING), "it is over"


def test_a_finished_bot_gives_up_its_lease(bots: Bots, leases: Leases) -> None:
    bot_id = new_bot(bots)
    assert leases.claim(bot_id, "done", timedelta(seconds=-1))
    assert bots.change_status(bot_id, StatusCode.DONE)
    assert leases.expired() == []
    assert not leases.process_ended(bot_id, "done")


def test_only_the_process_that_holds_a_bot_ends_it_when_it_exits(
    bots: Bots, leases: Leases
) -> None:
    claimed, unclaimed = new_bot(bots), new_bot(bots)
    assert leases.claim(claimed, "host:1", LEASE)
    assert not leases.claim(claimed, "host:2", LEASE)
    assert not leases.process_ended(claimed, "host:2"), "a second process lost the claim"
    assert codes(bots, claimed)[-1] == (StatusCode.JOINING_CALL, None)
    assert leases.process_ended(claimed, "host:1")
    assert codes(bots, claimed)[-1] == (StatusCode.FATAL, SubCode.BOT_PROCESS_LOST)
    assert leases.process_ended(unclaimed, "host:3"), "it ended before it claimed the bot"
    assert codes(bots, unclaimed)[-1] == (StatusCode.FATAL, SubCode.BOT_PROCESS_LOST)


def test_leave_calls_off_a_bot_not_dispatched_and_asks_one_that_was(
    bots: Bots, leases: Leases
) -> None:
    waiting, started = new_bot(bots, join_in=3600), new_bot(bots)
    queued = new_bot(bots)
    assert leases.mark_dispatched(started)
    assert leases.mark_dispatched(queued)
    assert leases.claim(started, "running", LEASE)
    assert leases.request_leave(waiting) is LeaveAsked.CALLED_OFF
    assert codes(bots, waiting)[-2:] == [
        (StatusCode.CALL_ENDED, SubCode.BOT_RECEIVED_LEAVE_CALL),
        (StatusCode.DONE, None),
    ]
    assert not leases.mark_dispatched(waiting), "a called-off bot never starts"
    assert leases.request_leave(queued) is LeaveAsked.CALLED_OFF, "queued, not yet claimed"
    assert not leases.claim(queued, "late", LEASE), "the process that gets to it finds it over"
    assert not leases.leave_requested(started)
    assert leases.request_leave(started) is LeaveAsked.SENT
    assert leases.leave_requested(started)
    assert leases.renew(started, LEASE, stream_reconnects=0).leave_requested


def test_bots_are_due_by_join_at_less_the_lead(bots: Bots, leases: Leases) -> None:
    now_bot = new_bot(bots)
    soon = new_bot(bots, join_in=20)
    later = new_bot(bots, join_in=3600)
    due = {bot_id for bot_id, _, _ in leases.due(timedelta(seconds=30))}
    assert due == {now_bot, soon}
    assert {bot_id for bot_id, _, _ in leases.due(timedelta(0))} == {now_bot}
    assert leases.mark_dispatched(now_bot)
    assert {bot_id for bot_id, _, _ in leases.due(timedelta(seconds=30))} == {soon}
    assert later not in {bot_id for bot_id, _, _ in leases.due(timedelta(minutes=59))}


def test_slots_are_held_by_unfinished_bots_due_soon_or_dispatched(
    bots: Bots, leases: Leases
) -> None:
    ad_hoc = timedelta(minutes=10)
    running = new_bot(bots)
    new_bot(bots, join_in=60)
    far = new_bot(bots, join_in=7200)
    assert leases.slots_held(ad_hoc) == 2
    assert leases.mark_dispatched(far)
    assert leases.slots_held(ad_hoc) == 3, "a bot dispatched early holds its slot"
    assert bots.change_status(running, StatusCode.DONE)
    assert leases.slots_held(ad_hoc) == 2


TRANSCRIPT = {"provider": {"recallai_streaming": {}}}


def test_a_bot_that_transcribes_holds_three_slots_and_needs_them_free(
    store_url: str, bots: Bots, leases: Leases
) -> None:
    ad_hoc = timedelta(minutes=10)
    limit = SlotLimit(capacity=4, ad_hoc_within=ad_hoc)
    plain = BotCreate(meeting_url=NOBODYS_MEETING)
    transcribing = BotCreate.model_validate(
        {"meeting_url": NOBODYS_MEETING, "recording_config": {"transcript": TRANSCRIPT}}
    )
    meeting = plain.parsed_meeting_url()
    bots.create(transcribing, meeting, ENVIRONMENT_KEY, slots=limit)
    assert leases.slots_held(ad_hoc) == TRANSCRIBING_BOT_SLOTS
    with pytest.raises(NoFreeSlot):
        bots.create(transcribing, meeting, ENVIRONMENT_KEY, slots=limit)
    later = BotCreate.model_validate(
        {"meeting_url": NOBODYS_MEETING, "join_at": (datetime.now(UTC) + timedelta(days=1))}
    )
    scheduled = bots.create(later, meeting, ENVIRONMENT_KEY, slots=None).id
    asked_now = transcribing.model_copy(update={"join_at": None})
    with pytest.raises(NoFreeSlot):
        bots.update(scheduled, asked_now, meeting, slots=limit)
    bots.update(scheduled, plain, meeting, slots=limit)
    assert leases.slots_held(ad_hoc) == TRANSCRIBING_BOT_SLOTS + 1
    with pytest.raises(NoFreeSlot):
        bots.create(plain, meeting, ENVIRONMENT_KEY, slots=limit)


def test_a_dispatched_bot_no_process_claims_is_ended_once_and_never_runs(
    store_url: str, bots: Bots, leases: Leases
) -> None:
    bot_ids = [new_bot(bots) for _ in range(BOTS)]
    for bot_id in bot_ids:
        assert leases.mark_dispatched(bot_id)
    assert leases.never_started(timedelta(minutes=10)) == []
    assert set(leases.never_started(timedelta(0))) == set(bot_ids)
    winners = race(
        store_url,
        lambda leases, bot_id: leases.declare_never_started(bot_id, timedelta(0)),
        bot_ids,
    )
    assert_each_won_once(winners, bot_ids)
    for bot_id in bot_ids:
        assert codes(bots, bot_id) == [
            (StatusCode.READY, None),
            (StatusCode.FATAL, SubCode.BOT_PROCESS_LOST),
        ]
        assert not leases.claim(bot_id, "late", LEASE), "a late process finds it over"
