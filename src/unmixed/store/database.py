"""Engines and schema migrations."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = int.from_bytes(b"unmixed!")
"""The PostgreSQL advisory lock migrations hold: any 64-bit number no other lock uses."""


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def open_database(url: str, *, migrate: bool = False) -> Database:
    """Connect to `url`; with `migrate`, bring the schema up to date first.

    Only the API process migrates: bot processes open the same database and
    trust that it is current. Query parameters never appear in errors (and so
    never in logs): they are users' data.
    """
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _tune_sqlite)
    if migrate:
        upgrade_schema(engine)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


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
