"""Status webhooks, end to end: the outbox written with each status, signed delivery
in order to a real receiver that verifies every request with `standardwebhooks`,
retries through a receiver outage and an API killed with SIGKILL, and the CLI and
API that manage endpoints and the secret."""

import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select

from tests.inprocess import ZOOM_MEETING, attend_in_process
from tests.scripted import Join, Leave, ScriptedAdapter, Speak
from tests.serve import ServeProcess
from tests.webhook_receiver import Received, WebhookReceiver
from unmixed.api.server import ApiServer
from unmixed.egress import EgressPolicy
from unmixed.receiver import AudioReceiver
from unmixed.settings import Settings
from unmixed.store import ENVIRONMENT_KEY, ApiKeys, Bots, Database, open_database
from unmixed.store.leases import Leases
from unmixed.store.models import WebhookOutboxRow
from unmixed.store.webhooks import WebhookEndpoints
from unmixed.webhooks.delivery import MAX_IN_FLIGHT, WebhookDelivery
from unmixed.wire.bots import Bot, BotCreate

QUICK = {"everyone_left_timeout": 0.05, "noone_joined_timeout": 0.2}
LEASE = timedelta(minutes=5)
"""For bots this test claims as a bot process would; nothing here renews it."""
METADATA = {"customer": "acme"}


async def cli(environment: dict[str, str], *arguments: str) -> tuple[int, str, str]:
    """`unmixed ARGUMENTS` as a user runs it: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "unmixed.cli",
        *arguments,
        env={**os.environ, **environment},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def announced(bot: Bot) -> list[dict[str, Any]]:
    """Recall's status webhook for each of the bot's status changes after `ready`,
    built from the bot as the API shows it."""
    shown = bot.model_dump(mode="json")
    return [
        {
            "event": f"bot.{change['code']}",
            "data": {
                "data": {
                    "code": change["code"],
                    "sub_code": change["sub_code"],
                    "updated_at": change["created_at"],
                },
                "bot": {"id": shown["id"], "metadata": shown["metadata"]},
            },
        }
        for change in shown["status_changes"][1:]
    ]


def delays(bot: Bot, received: list[Received]) -> list[float]:
    """Seconds from each status change to its webhook's arrival."""
    return [
        item.arrived_at - change.created_at.timestamp()
        for change, item in zip(bot.status_changes[1:], received, strict=True)
    ]


async def test_a_bot_from_ready_to_done_announces_every_status_in_order(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'bots.db'}"
    async with WebhookReceiver() as receiver, AudioReceiver() as audio:
        status, out, _ = await cli(
            {"UNMIXED_DATABASE_URL": database_url}, "webhooks", "add", receiver.hook_url
        )
        assert status == 0
        receiver.secret = out.strip()
        assert receiver.secret.startswith("whsec_")
        delivery = WebhookDelivery(open_database(database_url), EgressPolicy(), timedelta(hours=24))
        async with delivery:
            adapter = ScriptedAdapter([Join("a", "Ann"), Speak("a", 440, 0.3), Leave("a")])
            bot = await attend_in_process(
                adapter, [audio], tmp_path, metadata=METADATA, automatic_leave=QUICK
            )
            expected = announced(bot)
            await receiver.until(lambda: len(receiver.delivered) >= len(expected), timeout=10)

    assert [change.code for change in bot.status_changes][-1] == "done"
    assert [item.payload for item in receiver.delivered] == expected
    assert len({item.webhook_id for item in receiver.delivered}) == len(expected)
    assert all(item.webhook_id.startswith("msg_") for item in receiver.delivered)
    assert receiver.unverified == 0
    assert receiver.refused == []
    assert max(delays(bot, receiver.delivered)) < 1.0
    print(f"delivery delays (s): {[round(delay, 3) for delay in delays(bot, receiver.delivered)]}")


async def test_a_rotated_secret_signs_every_later_try(store_url: str) -> None:
    database = open_database(store_url)
    endpoints, bots = WebhookEndpoints(database), Bots(database)
    request = BotCreate.model_validate({"meeting_url": ZOOM_MEETING, "bot_name": "rotate"})
    bot_id = bots.create(request, request.parsed_meeting_url(), ENVIRONMENT_KEY).id
    async with WebhookReceiver() as receiver:
        old_secret = endpoints.add(ENVIRONMENT_KEY, receiver.hook_url).new_secret
        assert old_secret is not None
        receiver.secret = old_secret
        async with WebhookDelivery(database, EgressPolicy(), timedelta(hours=24)):
            assert Leases(database).claim(bot_id, holder="test", lease=LEASE)
            await receiver.until(lambda: len(receiver.delivered) == 1, timeout=5)
            new_secret = endpoints.rotate_secret(ENVIRONMENT_KEY)
            assert bots.change_status(bot_id, "in_call_not_recording")
            await receiver.until(lambda: receiver.unverified == 1, timeout=5)
            receiver.secret = new_secret  # the receiver learns of the rotation
            await receiver.until(lambda: len(receiver.delivered) == 2, timeout=5)
    assert [item.payload["event"] for item in receiver.delivered] == [
        "bot.joining_call",
        "bot.in_call_not_recording",
    ]


async def test_two_senders_on_one_database_send_each_event_once_in_order(store_url: str) -> None:
    """Two delivery loops, each with its own engine, as two API processes would have;
    more bots than one loop sends to at once, so both loops take rows."""
    database = open_database(store_url)
    bots, leases = Bots(database), Leases(database)
    walk = ["in_call_not_recording", "call_ended", "done"]
    async with WebhookReceiver() as receiver:
        secret = WebhookEndpoints(database).add(ENVIRONMENT_KEY, receiver.hook_url).new_secret
        assert secret is not None
        receiver.secret = secret
        senders = [
            WebhookDelivery(open_database(store_url), EgressPolicy(), timedelta(hours=24))
            for _ in range(2)
        ]
        async with senders[0], senders[1]:
            request = BotCreate.model_validate({"meeting_url": ZOOM_MEETING, "bot_name": "x"})
            bot_ids = [
                bots.create(request, request.parsed_meeting_url(), ENVIRONMENT_KEY).id
                for _ in range(MAX_IN_FLIGHT + 8)
            ]
            for bot_id in bot_ids:
                assert leases.claim(bot_id, holder="test", lease=LEASE)
            for code in walk:
                for bot_id in bot_ids:
                    assert bots.change_status(bot_id, code)
            await receiver.until(lambda: len(receiver.delivered) >= 4 * len(bot_ids))
    ids = [item.webhook_id for item in receiver.delivered]
    assert len(ids) == len(set(ids)) == 4 * len(bot_ids)
    for bot_id in bot_ids:
        got = [
            item.payload["event"]
            for item in receiver.delivered
            if item.payload["data"]["bot"]["id"] == bot_id
        ]
        assert got == [f"bot.{code}" for code in ("joining_call", *walk)]
    assert receiver.unverified == 0


async def no_try_in_flight(database: Database) -> None:
    """Wait until the API has stored the outcome of its tries: a kill now leaves no row
    leased (a row leased by a killed API waits out its 30 s lease; that is not tested
    here). The API is another process: its commits can only be polled for."""
    async with asyncio.timeout(10):
        while True:
            with database.sessions() as session:
                leased = session.scalar(
                    select(func.count()).where(WebhookOutboxRow.claimed_until.is_not(None))
                )
            if not leased:
                return
            await asyncio.sleep(0.02)


async def test_every_event_survives_a_receiver_outage_and_a_killed_api(tmp_path: Path) -> None:
    key = "webhook-test-key"
    environment = {"UNMIXED_DATA_DIR": str(tmp_path), "UNMIXED_API_KEY": key}
    log = tmp_path / "serve.log"
    async with WebhookReceiver() as receiver:
        receiver.answer = 503
        api = ServeProcess(environment, log)
        await api.start()
        try:
            async with httpx.AsyncClient(headers={"Authorization": f"Token {key}"}) as http:
                created = await http.post(
                    f"{api.url}/api/v1/webhook_endpoint/", json={"url": receiver.hook_url}
                )
            assert created.status_code == 201, created.text
            receiver.secret = created.json()["secret"]

            # The test plays the bot process: it writes statuses to the shared store.
            database = open_database(f"sqlite:///{tmp_path / 'unmixed.db'}")
            bots = Bots(database)
            request = BotCreate.model_validate(
                {"meeting_url": ZOOM_MEETING, "bot_name": "outage", "metadata": METADATA}
            )
            bot_id = bots.create(request, request.parsed_meeting_url(), ENVIRONMENT_KEY).id
            assert Leases(database).claim(bot_id, holder="test", lease=LEASE)
            assert bots.change_status(bot_id, "in_call_not_recording")
            await receiver.until(lambda: len(receiver.refused) >= 1)
            await no_try_in_flight(database)
        finally:
            await api.kill()

        assert bots.start_recording(bot_id) is not None
        assert bots.change_status(bot_id, "call_ended", "timeout_exceeded_everyone_left")
        assert bots.change_status(bot_id, "done")
        refused_before_restart = len(receiver.refused)
        async with ServeProcess(environment, log):
            await receiver.until(lambda: len(receiver.refused) > refused_before_restart)
            receiver.answer = 200
            await receiver.until(lambda: len(receiver.delivered) >= 5)
        bot = bots.get(bot_id)

    assert bot is not None
    assert [item.payload for item in receiver.delivered] == announced(bot)
    delivered_ids = [item.webhook_id for item in receiver.delivered]
    assert len(set(delivered_ids)) == len(delivered_ids) == 5
    assert {item.webhook_id for item in receiver.refused} <= set(delivered_ids)
    assert receiver.refused[0].webhook_id == delivered_ids[0]
    assert receiver.unverified == 0
    first_try = receiver.refused[0].arrived_at - bot.status_changes[1].created_at.timestamp()
    print(
        f"first try {first_try:.2f} s after a status another process wrote; "
        f"{len(receiver.refused)} refused tries, then {len(delivered_ids)} delivered; "
        f"last delay {delays(bot, receiver.delivered)[-1]:.1f} s"
    )


async def test_the_cli_adds_lists_removes_and_rotates(tmp_path: Path) -> None:
    environment = {"UNMIXED_DATA_DIR": str(tmp_path)}
    status, first_secret, _ = await cli(environment, "webhooks", "add", "https://example.com/a")
    assert status == 0
    assert first_secret.strip().startswith("whsec_")
    status, out, err = await cli(environment, "webhooks", "add", "http://127.0.0.1:9/b")
    assert (status, out) == (0, "")
    assert "rotate-secret" in " ".join(err.split())

    status, listing, _ = await cli(environment, "webhooks", "list")
    assert status == 0
    assert "https://example.com/a" in listing
    assert "http://127.0.0.1:9/b" in listing
    status, new_secret, _ = await cli(environment, "webhooks", "rotate-secret")
    assert status == 0
    assert new_secret.strip().startswith("whsec_")
    assert new_secret != first_secret

    database = open_database(f"sqlite:///{tmp_path / 'unmixed.db'}")
    assert ApiKeys(database).all() == []  # so --key-id 1 names no stored key
    status, _, err = await cli(environment, "webhooks", "list", "--key-id", "1")
    assert status != 0
    assert "no stored key" in err

    status, _, err = await cli(environment, "webhooks", "add", "http://169.254.169.254/x")
    assert status != 0
    assert "metadata" in err

    endpoint_ids = [endpoint.id for endpoint in WebhookEndpoints(database).all(ENVIRONMENT_KEY)]
    status, _, _ = await cli(environment, "webhooks", "remove", endpoint_ids[0])
    assert status == 0
    status, _, _ = await cli(environment, "webhooks", "remove", endpoint_ids[0])
    assert status == 1
    status, listing, _ = await cli(environment, "webhooks", "list")
    assert "https://example.com/a" not in listing
    assert "http://127.0.0.1:9/b" in listing


async def test_the_api_routes_are_scoped_to_the_key_and_name_a_bad_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_key=SecretStr("environment-key"))
    async with ApiServer(settings) as api:
        stored_key = ApiKeys(open_database(settings.resolved_database_url())).create("other")
        base = f"{api.url}/api/v1/webhook_endpoint"
        async with (
            httpx.AsyncClient(headers={"Authorization": "Token environment-key"}) as mine,
            httpx.AsyncClient(headers={"Authorization": f"Token {stored_key}"}) as theirs,
        ):
            first = await mine.post(f"{base}/", json={"url": "https://example.com/hook"})
            assert first.status_code == 201
            assert first.json()["secret"].startswith("whsec_")
            second = await mine.post(base, json={"url": "http://127.0.0.1:9/hook"})
            assert second.status_code == 201
            assert second.json()["secret"] is None
            assert [item["id"] for item in (await mine.get(f"{base}/")).json()] == [
                first.json()["id"],
                second.json()["id"],
            ]
            datetime.fromisoformat(first.json()["created_at"])

            assert (await theirs.get(f"{base}/")).json() == []
            gone = await theirs.delete(f"{base}/{first.json()['id']}/")
            assert gone.status_code == 404
            assert gone.json()["code"] == "not_found"
            theirs_made = await theirs.post(f"{base}/", json={"url": "https://example.org/x"})
            assert theirs_made.json()["secret"] not in (None, first.json()["secret"])

            for bad in ("http://169.254.169.254/latest", "ftp://example.com/x", "not a url"):
                refused = await mine.post(f"{base}/", json={"url": bad})
                assert refused.status_code == 400, bad
                assert refused.json()["field"] == "url", refused.json()
            missing = await mine.post(f"{base}/", json={})
            assert (missing.status_code, missing.json()["field"]) == (400, "url")

            assert (await mine.delete(f"{base}/{first.json()['id']}/")).status_code == 204
            assert [item["id"] for item in (await mine.get(base)).json()] == [second.json()["id"]]
            assert (await theirs.get(base)).json()[0]["url"] == "https://example.org/x"
