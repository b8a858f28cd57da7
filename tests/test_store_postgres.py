"""The store on PostgreSQL as on SQLite: the migrations build the schema the models
describe, on an empty database and with several API processes starting at once;
the bot list's filters; and what must happen once however many processes try it
together (claims of an idempotency key, a bot's last status, an account's first
webhook secret; leases are in test_leases.py), each with its own engine, as
separate processes would have. SQLite takes one writer at a time; PostgreSQL lets
them meet at a row lock, which is where a check made before the write stops being
true."""

import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc
from sqlalchemy import text, update

from tests.inprocess import ZOOM_MEETING
from tests.services import PostgresServer
from unmixed.store import ENVIRONMENT_KEY, ApiKeys, BotFilters, Bots, Database, Owner, open_database
from unmixed.store.database import MIGRATIONS
from unmixed.store.idempotency import (
    IdempotencyKeys,
    IdempotencyRow,
    IdempotentRequest,
    Pending,
    StoredAnswer,
)
from unmixed.store.leases import Leases
from unmixed.store.models import Base
from unmixed.store.webhooks import AddedEndpoint, WebhookEndpoints
from unmixed.wire.bots import BotCreate, FieldError

T = TypeVar("T")

TOGETHER = 8
"""Processes that try one thing at once."""
MIGRATION_ONLY_INDEXES = {"ix_webhook_outbox_pending", "ux_webhook_secrets_account"}
"""Indexes the migrations make for queries' sake that the models do not declare."""
LEASE = timedelta(minutes=5)


def at_once(url: str, attempt: Callable[[Database], T], count: int = TOGETHER) -> list[T]:
    """`attempt` from `count` threads, each with its own engine already connected, all
    released together, as `count` processes sharing the database would be."""
    ready = threading.Barrier(count)

    def one(_: int) -> T:
        database = open_database(url)
        try:
            with database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            ready.wait()
            return attempt(database)
        finally:
            database.engine.dispose()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def new_bot(bots: Bots, owner: Owner = ENVIRONMENT_KEY, **request: Any) -> str:
    create = BotCreate.model_validate({"meeting_url": ZOOM_MEETING, "bot_name": "x", **request})
    return bots.create(create, create.parsed_meeting_url(), owner).id


def test_the_migrations_build_the_schema_the_models_describe(store_url: str) -> None:
    database = open_database(store_url)
    with database.engine.connect() as connection, warnings.catch_warnings():
        # PostgreSQL's expression index (coalesce) cannot be reflected; it is named above.
        warnings.simplefilter("ignore", sa_exc.SAWarning)
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        version = connection.scalar(text("SELECT version_num FROM alembic_version"))
    unexpected = [
        difference
        for difference in differences
        if not (
            isinstance(difference, tuple)
            and difference[0] == "remove_index"
            and difference[1].name in MIGRATION_ONLY_INDEXES
        )
    ]
    assert unexpected == []
    assert IdempotencyRow.__tablename__ in Base.metadata.tables  # compared too
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert version == ScriptDirectory.from_config(config).get_current_head()


def test_api_processes_starting_together_migrate_one_empty_database(
    postgres_server: PostgresServer,
) -> None:
    """Real processes (Alembic's context is global to a process): each takes the
    migration lock in turn, and all but the first find the schema current."""
    url = postgres_server.create_database()
    migrate = (
        "import sys; from unmixed.store import open_database; "
        "open_database(sys.argv[1], migrate=True)"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", migrate, url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=60)[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, "\n".join(errors)
    bots = Bots(open_database(url))
    assert bots.get(new_bot(bots)) is not None
    postgres_server.drop_database(url)


def test_the_bot_list_filters_pages_and_owners(store_url: str) -> None:
    database = open_database(store_url)
    bots = Bots(database)
    someone_else = Owner(ApiKeys(database).find(ApiKeys(database).create("someone else")))
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=123456)
    for index in range(12):
        new_bot(
            bots,
            meeting_url=ZOOM_MEETING if index % 2 else "https://meet.google.com/abc-defg-hij",
            metadata={"team": "red" if index < 5 else "blue", "a.b c'$": str(index % 3)},
            join_at=(start + timedelta(minutes=index)).isoformat(),
        )
    new_bot(bots, someone_else, metadata={"team": "red"})

    def count(filters: BotFilters, owner: Owner = ENVIRONMENT_KEY) -> int:
        return bots.page(owner, filters, offset=0, limit=100)[0]

    assert count(BotFilters()) == 12
    assert count(BotFilters(), someone_else) == 1
    assert count(BotFilters(metadata=(("team", "red"),))) == 5
    assert count(BotFilters(metadata=(("team", "red"), ("a.b c'$", "0")))) == 2
    assert count(BotFilters(metadata=(("missing", "red"),))) == 0
    assert count(BotFilters(platforms=("zoom",), statuses=("ready",))) == 6
    assert count(BotFilters(join_at_before=start + timedelta(minutes=3, seconds=30))) == 4
    assert count(BotFilters(join_at_after=start + timedelta(minutes=3, seconds=30))) == 8
    assert count(BotFilters(join_at_after=start, join_at_before=start)) == 1  # microseconds kept

    total, page = bots.page(ENVIRONMENT_KEY, BotFilters(), offset=10, limit=5)
    assert (total, len(page)) == (12, 2)
    _, everything = bots.page(ENVIRONMENT_KEY, BotFilters(), offset=0, limit=100)
    created = [bot.status_changes[0].created_at for bot in everything]
    assert created == sorted(created, reverse=True)
    assert all(bot.join_at is not None and bot.join_at.tzinfo is UTC for bot in everything)
    assert {bot.join_at for bot in everything} == {
        start + timedelta(minutes=index) for index in range(12)
    }


@pytest.mark.parametrize("key", ["ünïcode", 'double"quote', "back\\slash"])
def test_a_metadata_key_of_any_text_filters(store_url: str, key: str) -> None:
    bots = Bots(open_database(store_url))
    new_bot(bots, metadata={key: "yes"})
    assert bots.page(ENVIRONMENT_KEY, BotFilters(metadata=((key, "yes"),)), offset=0, limit=10)[0]


def test_an_idempotency_key_runs_its_request_once(store_url: str) -> None:
    keys = IdempotencyKeys(open_database(store_url))
    request = IdempotentRequest.of(ENVIRONMENT_KEY, "POST", "/api/v1/bot/", "one", b"{}")
    other_body = IdempotentRequest.of(ENVIRONMENT_KEY, "POST", "/api/v1/bot/", "one", b"[]")
    assert keys.claim(request) is None
    assert keys.claim(request) is Pending.IN_PROGRESS
    assert keys.claim(other_body) is Pending.OTHER_BODY
    keys.release(request)
    assert keys.claim(request) is None
    keys.answer(request, 201, "application/json", b'{"id": "x"}')
    answer = StoredAnswer(201, "application/json", b'{"id": "x"}')
    assert keys.claim(request) == answer

    together = IdempotentRequest.of(ENVIRONMENT_KEY, "POST", "/api/v1/bot/", "two", b"{}")
    claims = at_once(store_url, lambda database: IdempotencyKeys(database).claim(together))
    assert sorted(map(str, claims)) == sorted(["None"] + [str(Pending.IN_PROGRESS)] * 7)


def test_a_request_whose_process_died_is_run_again_by_one_retry(store_url: str) -> None:
    database = open_database(store_url)
    request = IdempotentRequest.of(ENVIRONMENT_KEY, "POST", "/api/v1/bot/", "died", b"{}")
    assert IdempotencyKeys(database).claim(request) is None
    with database.sessions.begin() as session:  # its process died three minutes ago
        session.execute(
            update(IdempotencyRow).values(created_at=datetime.now(UTC) - timedelta(minutes=3))
        )
    retries = at_once(store_url, lambda database: IdempotencyKeys(database).claim(request))
    assert retries.count(None) == 1
    assert retries.count(Pending.IN_PROGRESS) == TOGETHER - 1


def add_hook(database: Database, owner: Owner) -> AddedEndpoint:
    return WebhookEndpoints(database).add(owner, "http://127.0.0.1:9/hook")


def rotate_secret(database: Database, owner: Owner) -> str:
    return WebhookEndpoints(database).rotate_secret(owner)


def test_an_accounts_first_endpoints_added_together_share_one_secret(store_url: str) -> None:
    database = open_database(store_url)
    stored_key = Owner(ApiKeys(database).find(ApiKeys(database).create("stored")))
    for owner in (ENVIRONMENT_KEY, stored_key):
        added = at_once(store_url, partial(add_hook, owner=owner))
        made = [result.new_secret for result in added if result.new_secret is not None]
        assert len(made) == 1
        endpoints = WebhookEndpoints(database)
        assert endpoints.secret(owner) == made[0]
        assert len(endpoints.all(owner)) == TOGETHER

        rotated = at_once(store_url, partial(rotate_secret, owner=owner))
        assert len(set(rotated)) == TOGETHER
        assert endpoints.secret(owner) in rotated
    environment_secret = WebhookEndpoints(database).secret(ENVIRONMENT_KEY)
    assert environment_secret != WebhookEndpoints(database).secret(stored_key)


def test_a_bot_finishes_once(store_url: str) -> None:
    """Racing ends (the bot's own, a leave, a reaper's) append one final status."""
    database = open_database(store_url)
    bots = Bots(database)
    bot_id = new_bot(bots)
    assert Leases(database).claim(bot_id, holder="test", lease=LEASE)
    endings = at_once(store_url, lambda database: Bots(database).change_status(bot_id, "done"))
    assert endings.count(True) == 1
    bot = bots.get(bot_id)
    assert bot is not None
    assert [change.code for change in bot.status_changes] == ["ready", "joining_call", "done"]


@pytest.mark.parametrize(
    "meeting_url",
    [
        "https://teams.microsoft.com/l/meetup-join/" + "1" * 300,
        f"{ZOOM_MEETING.split('?')[0]}?pwd={'p' * 300}",
    ],
    ids=["teams-id", "zoom-password"],
)
def test_a_meeting_url_too_long_to_store_is_refused_as_a_bad_request(meeting_url: str) -> None:
    """Never a database error (a 500) on one backend only: a meeting id or password comes
    from the URL (up to 2048 characters); the columns hold 200, which PostgreSQL enforces
    and SQLite does not. The API refuses longer ones, naming the field."""
    create = BotCreate.model_validate({"meeting_url": meeting_url, "bot_name": "x"})
    with pytest.raises(FieldError) as refused:
        create.parsed_meeting_url()
    assert refused.value.field == "meeting_url"
    assert "longer than 200 characters" in str(refused.value)
