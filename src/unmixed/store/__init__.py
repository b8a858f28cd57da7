"""Persistence: bots, their status changes and recordings, and API keys.

SQLAlchemy 2 over SQLite by default and PostgreSQL in production; the schema is
owned by Alembic migrations, never by `create_all`.
"""

from unmixed.store.database import Database, open_database
from unmixed.store.repository import (
    ENVIRONMENT_KEY,
    ApiKeys,
    BotFilters,
    BotRecord,
    Bots,
    KeyInfo,
    Owner,
)

__all__ = [
    "ENVIRONMENT_KEY",
    "ApiKeys",
    "BotFilters",
    "BotRecord",
    "Bots",
    "Database",
    "KeyInfo",
    "Owner",
    "open_database",
]
