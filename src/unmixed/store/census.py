"""What the service holds right now, for `/metrics`: counted in the store, so every
API replica reports the same numbers."""

from dataclasses import dataclass

from sqlalchemy import func, select

from unmixed.store.database import Database
from unmixed.store.models import BotRow, WebhookOutboxRow
from unmixed.wire.status import FINAL_CODES


@dataclass(frozen=True)
class Census:
    bots_by_status: dict[str, int]
    """Unfinished bots, by status."""
    stream_reconnects: int
    """Realtime connections every bot ever had to open again (as of its last renewal)."""
    webhook_backlog: int
    """Status webhooks neither delivered nor given up on."""


def take_census(database: Database) -> Census:
    with database.sessions() as session:
        rows = session.execute(
            select(BotRow.status, func.count())
            .where(BotRow.status.not_in(FINAL_CODES))
            .group_by(BotRow.status)
        )
        by_status = {status: count for status, count in rows}
        reconnects = session.scalar(select(func.sum(BotRow.stream_reconnects)))
        backlog = session.scalar(
            select(func.count())
            .select_from(WebhookOutboxRow)
            .where(WebhookOutboxRow.delivered_at.is_(None), WebhookOutboxRow.failed_at.is_(None))
        )
        return Census(by_status, reconnects or 0, backlog or 0)
