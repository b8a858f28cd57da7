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
    """Realtime connections the unfinished bots had to open again."""
    webhook_backlog: int
    """Status webhooks neither delivered nor given up on."""


def take_census(database: Database) -> Census:
    with database.sessions() as session:
        rows = session.execute(
            select(BotRow.status, func.count(), func.sum(BotRow.stream_reconnects))
            .where(BotRow.status.not_in(FINAL_CODES))
            .group_by(BotRow.status)
        )
        by_status: dict[str, int] = {}
        reconnects = 0
        for status, count, status_reconnects in rows:
            by_status[status] = count
            reconnects += status_reconnects or 0
        backlog = session.scalar(
            select(func.count())
            .select_from(WebhookOutboxRow)
            .where(WebhookOutboxRow.delivered_at.is_(None), WebhookOutboxRow.failed_at.is_(None))
        )
        return Census(by_status, reconnects, backlog or 0)
