"""Shared parts for the tests: one real Janus and one real API server for the session;
a fresh receiver and a fresh meeting room for each test; a private PostgreSQL and Redis
for the session, started only if a test asks for them, and a fresh migrated store on
SQLite and on PostgreSQL for each store test."""

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.services import PostgresServer
from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.logs import configure_logging
from unmixed.receiver import AudioReceiver
from unmixed.settings import Settings
from unmixed.store import Bots, Database, open_database
from unmixed.store.leases import Leases
from unmixed.testbed.redis import RedisServer
from unmixed.testbed.server import JanusServer

UNLIMITED_RATES = {
    "rate_limit_create": "100000/minute",
    "rate_limit_list": "100000/minute",
    "rate_limit_other": "100000/minute",
}
"""For the shared API: these tests are not about rates (test_limits.py is)."""


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging(process="tests")


@pytest.fixture(scope="session")
def api_key() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("unmixed-data")


@pytest.fixture(scope="session")
async def janus() -> AsyncIterator[JanusServer]:
    async with JanusServer() as server:
        yield server


@pytest.fixture(scope="session")
async def api(data_dir: Path, api_key: str) -> AsyncIterator[ApiServer]:
    settings = Settings(
        data_dir=data_dir,
        database_url=None,
        api_key=SecretStr(api_key),
        testbed_enabled=True,
        schedule_lead_seconds=0,  # tests of join_at see bots start at it, not before
        **UNLIMITED_RATES,
    )
    async with ApiServer(settings) as server:
        yield server


@pytest.fixture
async def client(api: ApiServer, api_key: str) -> AsyncIterator[AsyncUnmixedClient]:
    async with AsyncUnmixedClient(api.url, api_key) as unmixed:
        yield unmixed


@pytest.fixture
async def receiver() -> AsyncIterator[AudioReceiver]:
    async with AudioReceiver() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL cluster; `create_database()` gives a test a database of its own."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """A private redis-server's database 0, shared by the session: flush it if you need it empty."""
    async with RedisServer() as server:
        yield server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated to head, once on each backend the store supports.

    PostgreSQL is asked for only by the `postgresql` case, so a run that selects no
    such test never starts it. The database is dropped afterwards, with whatever
    connections the test left open."""
    server: PostgresServer | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database()
    open_database(url, migrate=True).engine.dispose()
    yield url
    if server is not None:
        server.drop_database(url)


@pytest.fixture
def database(store_url: str) -> Iterator[Database]:
    """The store at `store_url`, opened as one process would open it."""
    database = open_database(store_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def bots(database: Database) -> Bots:
    return Bots(database)


@pytest.fixture
def leases(database: Database) -> Leases:
    return Leases(database)
