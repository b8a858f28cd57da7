"""Persistence: bots, their status changes and recordings, and API keys.

SQLAlchemy 2 over SQLite by default and PostgreSQL in production; the schema is
owned by Alembic migrations, never by `create_all`.
"""

from unmixed.store.database import Database, open_database
from unmixed.store.repository import ApiKeys, BotFilters, BotRecord, Bots

__all__ = ["ApiKeys", "BotFilters", "BotRecord", "Bots", "Database", "open_database"]
