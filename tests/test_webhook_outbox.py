"""The outbox's rules, straight on the store: a status writes one row per endpoint of
the bot's account; a row is handed to one sender at a time (the lease), keeps its
`webhook-id` across tries, and waits for the one before it (same bot, same endpoint);
and the retry schedule. The store's rules hold on SQLite and on PostgreSQL alike."""

import json
from datetime import UTC, datetime, timedelta

from tests.inprocess import ZOOM_MEETING
from unmixed.store import ENVIRONMENT_KEY, ApiKeys, Bots, Owner, open_database
from unmixed.store.leases import Leases
from unmixed.store.outbox import Outbox
from unmixed.store.webhooks import WebhookEndpoints
from unmixed.webhooks.schedule import next_attempt, retry_delay
from unmixed.wire.bots import BotCreate


def test_rows_go_out_one_at_a_time_in_order_with_fixed_ids(store_url: str) -> None:
    database = open_database(store_url)
    endpoints = WebhookEndpoints(database)
    endpoints.add(ENVIRONMENT_KEY, "http://127.0.0.1:9/mine")
    ApiKeys(database).create("someone else")
    [someone_else] = ApiKeys(database).all()
    endpoints.add(Owner(someone_else.id), "http://127.0.0.1:9/theirs")

    bots = Bots(database)
    request = BotCreate.model_validate({"meeting_url": ZOOM_MEETING, "bot_name": "outbox"})
    bot_id = bots.create(request, request.parsed_meeting_url(), ENVIRONMENT_KEY).id
    assert Leases(database).claim(bot_id, holder="test", lease=timedelta(minutes=5))
    assert bots.change_status(bot_id, "in_call_not_recording")

    first_sender, second_sender = Outbox(database), Outbox(database)
    [first] = first_sender.claim(10)  # only the first event: the second waits for it
    assert json.loads(first.body)["event"] == "bot.joining_call"
    assert first.url == "http://127.0.0.1:9/mine"  # not the other account's endpoint
    assert first.secret.startswith("whsec_")
    assert first.attempts == 1
    assert second_sender.claim(10) == []  # leased to the first sender

    first_sender.retry(first, datetime.now(UTC) - timedelta(seconds=1), "503")
    [again] = second_sender.claim(10)
    assert (again.id, again.webhook_id, again.attempts) == (first.id, first.webhook_id, 2)
    second_sender.delivered(again)

    [following] = first_sender.claim(10)
    assert json.loads(following.body)["event"] == "bot.in_call_not_recording"
    first_sender.failed(following, "gave up")
    assert first_sender.claim(10) == []


def test_the_retry_schedule_doubles_to_an_hour_within_the_window() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert retry_delay(13) == timedelta(hours=1)
    assert retry_delay(1000) == timedelta(hours=1)
    start = datetime(2026, 11, 29, tzinfo=UTC)
    window = timedelta(hours=24)
    assert next_attempt(start, 1, start, window) == start + timedelta(seconds=1)
    late = start + window - timedelta(minutes=30)
    assert next_attempt(start, 20, late, window) is None
