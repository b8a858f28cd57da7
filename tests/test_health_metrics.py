"""What an operator checks before putting the service behind a load balancer and
Prometheus: the API's `/healthz` (200 while it reaches the store, 503 naming the
store when it cannot), its `/metrics` (the operator's key only, numbers that match
what was done), rate limits that replicas share through Redis, and a worker's own
`/healthz`, `/metrics` and slot announcement. Real parts throughout: SQLite,
a private PostgreSQL and Redis, API servers in this loop, a worker process."""

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy import make_url, select

from tests.conftest import UNLIMITED_RATES
from tests.services import PostgresServer
from tests.test_api import bot_request
from unmixed.api.server import ApiServer
from unmixed.bots.launchers.celery import WORKER_KEY_PREFIX
from unmixed.net import free_port
from unmixed.settings import Settings
from unmixed.store import ApiKeys, open_database
from unmixed.store.models import WebhookOutboxRow

OPERATOR_KEY = "operator-key-for-health-and-metrics"
SLOTS = 3
UNMIXED = str(Path(sys.executable).with_name("unmixed"))
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def settings(tmp_path: Path, **changes: Any) -> Settings:
    """An API of its own: SQLite in `tmp_path` unless `database_url` says otherwise."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": None,
        "api_key": SecretStr(OPERATOR_KEY),
        "testbed_enabled": True,
        "bot_slots": SLOTS,
        **UNLIMITED_RATES,
    }
    values.update(changes)
    return Settings(**values)


def token(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text body, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(http: httpx.AsyncClient, url: str) -> Samples:
    answer = await http.get(url, headers=token(OPERATOR_KEY))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def in_(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
def flushed_redis(redis_url: str) -> str:
    with redis.Redis.from_url(redis_url) as store:
        store.flushdb()
    return redis_url


# 1. /healthz


async def test_healthz_answers_ok_to_anyone(api: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=api.url) as http:
        answer = await http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_healthz_answers_503_naming_the_store_while_it_is_gone(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """The database is dropped under a running API (its connections cut), then made
    again: the API turns unhealthy with it, and healthy again without a restart."""
    database_url = postgres_server.create_database()
    name = make_url(database_url).database
    assert name is not None

    def run_as_admin(statement: str) -> None:
        with psycopg.connect(
            host="127.0.0.1",
            port=postgres_server.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(name)))

    try:
        async with (
            ApiServer(settings(tmp_path, database_url=SecretStr(database_url))) as server,
            httpx.AsyncClient(base_url=server.url) as http,
        ):
            assert (await http.get("/healthz")).json() == {"status": "ok"}

            run_as_admin("DROP DATABASE {} WITH (FORCE)")
            answer = await http.get("/healthz")
            assert answer.status_code == 503
            assert answer.headers["content-type"] == "application/json"
            assert answer.json() == {"status": "unavailable", "problem": "store"}

            run_as_admin("CREATE DATABASE {}")
            answer = await http.get("/healthz")
            assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    finally:
        postgres_server.drop_database(database_url)


# 2. /metrics


async def test_metrics_are_for_the_operator_alone(tmp_path: Path) -> None:
    async with ApiServer(settings(tmp_path / "keyed")) as server:
        account_key = ApiKeys(open_database(server.settings.resolved_database_url())).create()
        async with httpx.AsyncClient(base_url=server.url) as http:
            for headers in ({}, token(account_key), token("not-a-key"), {"Authorization": ""}):
                answer = await http.get("/metrics", headers=headers)
                assert answer.status_code == 401, headers
                assert answer.json()["code"] == "authentication_failed"
            # The account's key does work where it belongs: this is not a broken key.
            assert (await http.get("/api/v1/bot/", headers=token(account_key))).status_code == 200
            assert (await http.get("/metrics", headers=token(OPERATOR_KEY))).status_code == 200
            # Bearer, as many scrapers send it, is the same key.
            bearer = {"Authorization": f"Bearer {OPERATOR_KEY}"}
            assert (await http.get("/metrics", headers=bearer)).status_code == 200

    async with ApiServer(settings(tmp_path / "keyless", api_key=None)) as server:
        account_key = ApiKeys(open_database(server.settings.resolved_database_url())).create()
        async with httpx.AsyncClient(base_url=server.url) as http:
            for headers in ({}, token(account_key)):
                answer = await http.get("/metrics", headers=headers)
                assert answer.status_code == 404
                assert answer.json()["code"] == "not_found"
                assert "UNMIXED_API_KEY" in answer.json()["detail"]


@pytest.fixture
async def metered(tmp_path: Path) -> AsyncIterator[tuple[ApiServer, str]]:
    """An API with `SLOTS` local bot slots, and an account's key."""
    async with ApiServer(settings(tmp_path)) as server:
        key = ApiKeys(open_database(server.settings.resolved_database_url())).create("metrics")
        yield server, key


async def test_metrics_count_scheduled_bots_and_a_stuck_webhook_backlog(
    metered: tuple[ApiServer, str],
) -> None:
    server, key = metered
    async with httpx.AsyncClient(base_url=server.url, headers=token(key)) as http:
        empty = await scrape(http, "/metrics")
        assert empty == {
            ("unmixed_bots_running", ()): 0,
            ("unmixed_webhook_backlog", ()): 0,
            ("unmixed_stream_reconnects_total", ()): 0,
            ("unmixed_bot_slots", ()): SLOTS,
            ("unmixed_bot_slots_free", ()): SLOTS,
        }

        # The account's webhooks go to a port nothing listens on.
        hook = f"http://127.0.0.1:{free_port()}/hook"
        added = await http.post("/api/v1/webhook_endpoint/", json={"url": hook})
        assert added.status_code == 201, added.text

        bot_ids = []
        for _ in range(SLOTS + 1):  # more than the slots: a bot an hour ahead holds none
            made = await http.post("/api/v1/bot/", json=bot_request(join_at=in_(60)))
            assert made.status_code == 201, made.text
            bot_ids.append(made.json()["id"])
        metrics = await scrape(http, "/metrics")
        assert metrics[("unmixed_bots", (("status", "ready"),))] == SLOTS + 1
        assert metrics[("unmixed_bots_running", ())] == 0
        assert metrics[("unmixed_bot_slots", ())] == SLOTS
        assert metrics[("unmixed_bot_slots_free", ())] == SLOTS
        assert metrics[("unmixed_webhook_backlog", ())] == 0, "`ready` is not announced"

        # Calling one off stores `call_ended` and `done`, each an event for the endpoint.
        left = await http.post(f"/api/v1/bot/{bot_ids[0]}/leave_call/")
        assert left.status_code == 200, left.text
        database = open_database(server.settings.resolved_database_url())

        async def tried_and_failed() -> bool:
            with database.sessions() as session:
                rows = session.scalars(select(WebhookOutboxRow)).all()
                return any(row.attempts >= 1 and row.last_error for row in rows)

        await until(tried_and_failed, 10, "a delivery was tried and failed")
        metrics = await scrape(http, "/metrics")
        assert metrics[("unmixed_webhook_backlog", ())] == 2
        assert metrics[("unmixed_bots", (("status", "ready"),))] == SLOTS
        assert ("unmixed_bots", (("status", "done"),)) not in metrics, "finished: not counted"
        database.engine.dispose()


async def test_metrics_count_the_slot_an_ad_hoc_bot_holds(
    metered: tuple[ApiServer, str],
) -> None:
    """A bot due within 10 minutes holds a slot from its creation: the metrics must
    say so, as creation does (with every slot held, the next ad hoc bot gets 507)."""
    server, key = metered
    async with httpx.AsyncClient(base_url=server.url, headers=token(key)) as http:
        for _ in range(SLOTS):
            made = await http.post("/api/v1/bot/", json=bot_request(join_at=in_(5)))
            assert made.status_code == 201, made.text
        refused = await http.post("/api/v1/bot/", json=bot_request(join_at=in_(5)))
        assert refused.status_code == 507, "every slot is held"
        metrics = await scrape(http, "/metrics")
        assert metrics[("unmixed_bots", (("status", "ready"),))] == SLOTS
        assert metrics[("unmixed_bot_slots", ())] == SLOTS
        assert metrics[("unmixed_bot_slots_free", ())] == 0


# 3. Rate limits across replicas


async def alternate(urls: list[str], requests: int) -> list[httpx.Response]:
    """`GET /api/v1/bot/` `requests` times, taking the replicas in turn."""
    answers = []
    async with httpx.AsyncClient(headers=token(OPERATOR_KEY)) as http:
        for number in range(requests):
            answers.append(await http.get(f"{urls[number % len(urls)]}/api/v1/bot/"))
    return answers


async def replicas(stack: AsyncExitStack, tmp_path: Path, **changes: Any) -> list[str]:
    """Two API servers on one store, as behind a load balancer."""
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    open_database(database_url, migrate=True).engine.dispose()
    urls = []
    for name in ("a", "b"):
        server = ApiServer(
            settings(
                tmp_path / name,
                database_url=SecretStr(database_url),
                rate_limit_list="3/minute",
                **changes,
            )
        )
        urls.append((await stack.enter_async_context(server)).url)
    return urls


async def test_replicas_share_rate_limits_through_redis(tmp_path: Path, flushed_redis: str) -> None:
    async with AsyncExitStack() as stack:
        urls = await replicas(stack, tmp_path, redis_url=SecretStr(flushed_redis))
        answers = await alternate(urls, 4)
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert str(limited.url).startswith(urls[1]), "the 4th went to the other replica"
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    with redis.Redis.from_url(flushed_redis) as store:
        assert store.keys("unmixed-rates*"), "the count is kept in Redis"


async def test_without_redis_each_replica_counts_its_own(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        urls = await replicas(stack, tmp_path)
        answers = await alternate(urls, 7)
    assert [answer.status_code for answer in answers] == [200] * 6 + [429]
    assert str(answers[-1].url).startswith(urls[0])


# 4. A worker's /healthz and /metrics


async def test_a_worker_serves_health_and_metrics_and_announces_its_slots(
    tmp_path: Path, flushed_redis: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'worker.db'}"
    open_database(database_url, migrate=True).engine.dispose()
    port = free_port()
    log_path = tmp_path / "worker.log"
    environment = {
        **os.environ,
        "UNMIXED_REDIS_URL": flushed_redis,
        "UNMIXED_DATABASE_URL": database_url,
        "UNMIXED_DATA_DIR": str(tmp_path / "data"),
    }
    environment.pop("UNMIXED_API_KEY", None)
    store = redis.Redis.from_url(flushed_redis)
    key = f"{WORKER_KEY_PREFIX}t"
    with log_path.open("ab") as log:
        worker = await asyncio.create_subprocess_exec(
            UNMIXED,
            *("worker", "--slots", "3", "--name", "t", "--metrics-port", str(port)),
            env=environment,
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:

            async def healthy() -> bool:
                assert worker.returncode is None, log_path.read_text(errors="replace")
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await until(healthy, 20, "the worker's /healthz answers")
            assert (await http.get("/healthz")).json() == {"status": "ok"}

            answer = await http.get("/metrics")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")
            assert parse(answer.text) == {
                ("unmixed_worker_slots", ()): 3,
                ("unmixed_worker_bots_running", ()): 0,
                ("unmixed_worker_slots_free", ()): 3,
            }
            missing = await http.get("/nothing")
            assert missing.status_code == 404
            assert missing.json()["code"] == "not_found"

            async def announced() -> bool:
                return store.get(key) is not None

            await until(announced, 10, "the worker announced its slots")
            raw = store.get(key)
            assert raw is not None
            assert json.loads(raw) == {"slots": 3, "running": 0}
            assert 0 < store.ttl(key) <= 15, "an announcement that expires"

        async def consuming() -> bool:
            """Celery waits on its queue (BRPOP): it has started, its SIGTERM handler too.
            (`/healthz` answers a little before: a SIGTERM then kills the worker outright,
            and its announcement stays until it expires.)"""
            return any(client.get("cmd") == "brpop" for client in store.client_list())

        await until(consuming, 10, "the worker takes bots from its queue")
        worker.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(worker.wait(), timeout=20)
        assert exit_code == 0, log_path.read_text(errors="replace")
        assert store.get(key) is None, "a stopped worker takes its slots back"
    finally:
        store.close()
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
