"""Engines and schema migrations."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Delete, Engine, Update, create_engine, event, make_url, text
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = int.from_bytes(b"unmixed!")
"""The PostgreSQL advisory lock migrations hold: any 64-bit number no other lock uses."""


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


CONNECT_TIMEOUT_SECONDS = 10
"""A connection attempt to a PostgreSQL host that is gone fails after this, so that a
bot's lease renewal or a status write never hangs on it."""


def open_database(url: str, *, migrate: bool = False, pool_size: int | None = None) -> Database:
    """Connect to `url`; with `migrate`, bring the schema up to date first.

    Only the API process migrates: bot processes open the same database and
    trust that it is current. A bot asks for a small `pool_size`: a fleet of bots
    each holding a full pool would use up PostgreSQL's connections. Query
    parameters never appear in errors (and so never in logs): they are users' data.
    """
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    dialect = make_url(url).get_backend_name()
    if dialect == "postgresql":
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if pool_size is not None:
            options.update(pool_size=pool_size, max_overflow=pool_size)
    engine = create_engine(url, **options)
    if dialect == "sqlite":
        event.listen(engine, "connect", _tune_sqlite)
    if migrate:
        upgrade_schema(engine)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def changed(session: Session, statement: Update | Delete) -> bool:
    """Run a conditional `UPDATE` or `DELETE`: True if it touched a row.

    This is how the store settles races between processes: the condition is
    checked under the row lock (PostgreSQL) or the write lock (SQLite), so of
    several processes trying the same change, exactly one sees True.
    """
    result = session.execute(statement.execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def preload(url: str) -> None:
    """Load what opening `url` and the first query would, without connecting: the
    dialect and its driver, and the ORM's mappers. The warm bot process calls it,
    so that no bot forked from it pays for this itself."""
    make_url(url).get_dialect().import_dbapi()
    configure_mappers()


def upgrade_schema(engine: Engine) -> None:
    """Alembic is imported here, not above: bot processes never migrate, never load it.

    On PostgreSQL, API processes that start together (several machines, one
    database) take turns: each migrates under a transaction-scoped advisory lock,
    so the first brings the schema to head and the others find it there. Without
    it, two would create the same tables at once and all but one would fail.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _tune_sqlite(dbapi_connection: object, _record: object) -> None:
    """WAL and a busy timeout let the API and every bot process write to one file."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
