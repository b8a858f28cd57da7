"""Shared parts for the tests: one real Janus and one real API server for the session;
a fresh receiver and a fresh meeting room for each test."""

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.logs import configure_logging
from unmixed.receiver import AudioReceiver
from unmixed.settings import Settings
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
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
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
