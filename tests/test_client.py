"""`unmixed.client` against the real API: both clients create, read, list, change, delete
and call off bots, send an `Idempotency-Key` when asked, and turn the API's JSON errors into
`UnmixedError`.

The bots are scheduled an hour ahead, so none of them joins anything: no testbed meeting
is needed. Each test tags its bots with metadata of its own and lists by it, so other
tests' bots on the shared server stay out of its lists.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient, BotOptions, UnmixedClient, UnmixedError
from unmixed.wire.bots import AutomaticLeave, Bot
from unmixed.wire.status import StatusCode, SubCode

NOWHERE = "testbed://127.0.0.1:9/1"
PAGE_SIZE = 50


def in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def assert_called_off(bot: Bot) -> None:
    assert [change.code for change in bot.status_changes] == ["ready", "call_ended", "done"]
    assert bot.status_changes[1].sub_code == SubCode.BOT_RECEIVED_LEAVE_CALL


async def test_async_client_creates_reads_lists_and_calls_off_a_bot(
    api: ApiServer, api_key: str
) -> None:
    run = uuid.uuid4().hex
    join_at = in_an_hour()
    async with AsyncUnmixedClient(api.url, api_key) as unmixed:
        bot = await unmixed.create_bot(
            NOWHERE,
            bot_name="Client test",
            metadata={"run": run},
            automatic_leave=AutomaticLeave(everyone_left_timeout=5),
            join_at=join_at,
        )
        assert bot.status_changes[-1].code == StatusCode.READY
        assert bot.bot_name == "Client test"
        assert bot.automatic_leave.everyone_left_timeout == 5
        assert bot.automatic_leave.noone_joined_timeout == 1200, "unset fields get defaults"
        assert bot.join_at is not None
        assert abs((bot.join_at - join_at).total_seconds()) < 0.001

        assert await unmixed.get_bot(bot.id) == bot
        assert [found.id async for found in unmixed.list_bots(metadata={"run": run})] == [bot.id]
        assert [
            found async for found in unmixed.list_bots(metadata={"run": run}, status="done")
        ] == []

        assert_called_off(await unmixed.leave_call(bot.id))
        done = await unmixed.wait_for_status(bot.id, {StatusCode.DONE}, timeout=5)
        assert done.status_changes[-1].code == StatusCode.DONE
        listed = unmixed.list_bots(metadata={"run": run}, status=["ready", "done"])
        assert [found.id async for found in listed] == [bot.id]


async def test_async_client_raises_the_apis_errors(api: ApiServer, api_key: str) -> None:
    async with AsyncUnmixedClient(api.url, api_key) as unmixed:
        with pytest.raises(UnmixedError) as refused:
            await unmixed.create_bot(
                NOWHERE,
                recording_config={
                    "audio_separate_raw": {},
                    "realtime_endpoints": [
                        {
                            "type": "websocket",
                            "url": "http://127.0.0.1:9/audio",
                            "events": ["audio_separate_raw.data"],
                        }
                    ],
                },
            )
        assert refused.value.status_code == 400
        assert refused.value.code == "invalid_request"
        assert refused.value.field == "recording_config.realtime_endpoints[0].url"
        assert "websocket" in refused.value.detail
        assert isinstance(refused.value, httpx.HTTPStatusError), "callers of httpx's error too"
        assert refused.value.response.status_code == 400

        with pytest.raises(UnmixedError) as missing:
            await unmixed.get_bot("no-such-bot")
        assert (missing.value.status_code, missing.value.code) == (404, "not_found")

        bot = await unmixed.create_bot(NOWHERE, join_at=in_an_hour())
        await unmixed.leave_call(bot.id)
        with pytest.raises(UnmixedError) as again:
            await unmixed.leave_call(bot.id)
        assert (again.value.status_code, again.value.code) == (400, "cannot_command_completed_bot")
        assert again.value.field is None

    async with AsyncUnmixedClient(api.url, "not-a-key") as stranger:
        with pytest.raises(UnmixedError) as unknown:
            await stranger.get_bot(bot.id)
    assert (unknown.value.status_code, unknown.value.code) == (401, "authentication_failed")


async def test_both_clients_list_every_page(api: ApiServer, api_key: str) -> None:
    run = uuid.uuid4().hex
    async with AsyncUnmixedClient(api.url, api_key) as unmixed:
        created = [
            (await unmixed.create_bot(NOWHERE, metadata={"run": run}, join_at=in_an_hour())).id
            for _ in range(PAGE_SIZE + 3)
        ]
        second = await unmixed.get_bot_page(2, metadata={"run": run})
        assert (second.count, len(second.results), second.next) == (PAGE_SIZE + 3, 3, None)
        assert second.previous is not None

        listed = [bot.id async for bot in unmixed.list_bots(metadata={"run": run})]
        assert sorted(listed) == sorted(created), "each once, across both pages"

        def list_synchronously() -> list[str]:
            with UnmixedClient(api.url, api_key) as blocking:
                return [bot.id for bot in blocking.list_bots(metadata={"run": run})]

        assert await asyncio.to_thread(list_synchronously) == listed
        for bot_id in created:
            await unmixed.leave_call(bot_id)


async def test_async_client_changes_and_deletes_a_scheduled_bot(
    api: ApiServer, api_key: str
) -> None:
    run = uuid.uuid4().hex
    async with AsyncUnmixedClient(api.url, api_key) as unmixed:
        bot = await unmixed.create_bot(NOWHERE, metadata={"run": run}, join_at=in_an_hour())
        later = in_an_hour() + timedelta(minutes=30)
        changed = await unmixed.update_bot(
            bot.id, bot_name="Scribe", join_at=later, automatic_leave={"noone_joined_timeout": 60}
        )
        assert (changed.id, changed.bot_name, changed.metadata) == (bot.id, "Scribe", {"run": run})
        assert changed.join_at is not None
        assert abs((changed.join_at - later).total_seconds()) < 0.001
        assert changed.automatic_leave.noone_joined_timeout == 60
        assert changed.status_changes == bot.status_changes, "still only ready"
        assert await unmixed.get_bot(bot.id) == changed

        with pytest.raises(UnmixedError) as refused:
            await unmixed.update_bot(bot.id, bot_name="")
        assert (refused.value.status_code, refused.value.field) == (400, "bot_name")

        await unmixed.delete_bot(bot.id)
        for gone in (unmixed.get_bot(bot.id), unmixed.delete_bot(bot.id)):
            with pytest.raises(UnmixedError) as missing:
                await gone
            assert (missing.value.status_code, missing.value.code) == (404, "not_found")
        assert [found async for found in unmixed.list_bots(metadata={"run": run})] == []

        called_off = await unmixed.create_bot(NOWHERE, join_at=in_an_hour())
        await unmixed.leave_call(called_off.id)
        for command in (
            unmixed.update_bot(called_off.id, bot_name="Too late"),
            unmixed.delete_bot(called_off.id),
        ):
            with pytest.raises(UnmixedError) as finished:
                await command
            assert (finished.value.status_code, finished.value.code) == (
                400,
                "cannot_command_completed_bot",
            )


async def test_async_client_sends_the_idempotency_key(api: ApiServer, api_key: str) -> None:
    run = uuid.uuid4().hex
    key = f"create-{run}"
    join_at = in_an_hour()
    async with AsyncUnmixedClient(api.url, api_key) as unmixed:
        first = await unmixed.create_bot(
            NOWHERE, idempotency_key=key, metadata={"run": run}, join_at=join_at
        )
        again = await unmixed.create_bot(
            NOWHERE, idempotency_key=key, metadata={"run": run}, join_at=join_at
        )
        assert again == first
        assert [found.id async for found in unmixed.list_bots(metadata={"run": run})] == [first.id]

        with pytest.raises(UnmixedError) as reused:
            await unmixed.create_bot(
                NOWHERE, idempotency_key=key, metadata={"run": run}, bot_name="Other"
            )
        assert (reused.value.status_code, reused.value.code) == (422, "idempotency_key_reused")
        assert reused.value.field == "Idempotency-Key"

        renamed = await unmixed.update_bot(first.id, idempotency_key=key, bot_name="First")
        await unmixed.update_bot(first.id, bot_name="Second")
        replayed = await unmixed.update_bot(first.id, idempotency_key=key, bot_name="First")
        assert replayed == renamed, "the first answer, not a second change"
        assert (await unmixed.get_bot(first.id)).bot_name == "Second"

        with pytest.raises(UnmixedError) as too_long:
            await unmixed.create_bot(NOWHERE, idempotency_key="k" * 256, join_at=join_at)
        assert (too_long.value.status_code, too_long.value.field) == (400, "Idempotency-Key")
        await unmixed.delete_bot(first.id)


def _use_the_sync_client(base_url: str, api_key: str) -> None:
    """Every method of `UnmixedClient`, in a thread of its own: it blocks, and the API
    under test runs on the tests' event loop."""
    run = uuid.uuid4().hex
    with UnmixedClient(base_url, api_key) as unmixed:
        bot = unmixed.create_bot(
            NOWHERE,
            metadata={"run": run},
            automatic_leave={"everyone_left_timeout": {"timeout": 3, "activate_after": 60}},
            join_at=in_an_hour().isoformat(),
        )
        assert bot.automatic_leave.everyone_left().activate_after == 60
        assert unmixed.get_bot(bot.id) == bot
        assert [found.id for found in unmixed.list_bots(metadata={"run": run}, status="ready")] == [
            bot.id
        ]
        with pytest.raises(TimeoutError):
            unmixed.wait_for_status(bot.id, {StatusCode.DONE}, timeout=0.3, every=0.1)

        assert_called_off(unmixed.leave_call(bot.id))
        assert unmixed.wait_for_status(bot.id, {StatusCode.DONE}, timeout=5).id == bot.id

        with pytest.raises(UnmixedError) as refused:
            unmixed.create_bot(NOWHERE, metadata={"customer": 7})  # type: ignore[dict-item]
        assert (refused.value.status_code, refused.value.code) == (400, "invalid_request")
        assert refused.value.field == "metadata.customer"

        key = f"sync-{run}"
        options: BotOptions = {"metadata": {"run": run}, "join_at": in_an_hour().isoformat()}
        scheduled = unmixed.create_bot(NOWHERE, idempotency_key=key, **options)
        assert unmixed.create_bot(NOWHERE, idempotency_key=key, **options).id == scheduled.id
        assert len(list(unmixed.list_bots(metadata={"run": run}, status="ready"))) == 1
        changed = unmixed.update_bot(scheduled.id, idempotency_key=key, bot_name="Sync")
        assert (changed.bot_name, changed.metadata) == ("Sync", {"run": run})
        unmixed.delete_bot(scheduled.id)
        with pytest.raises(UnmixedError) as gone:
            unmixed.get_bot(scheduled.id)
        assert gone.value.status_code == 404


async def test_sync_client_against_the_api(api: ApiServer, api_key: str) -> None:
    await asyncio.to_thread(_use_the_sync_client, api.url, api_key)
