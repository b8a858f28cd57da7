"""The webhook outbox: status events waiting to be delivered, one row per endpoint.

`enqueue_status_event` runs inside the transaction that writes a status, so an
event is stored exactly when its status is, by whichever process wrote it (a
bot or the API). The API's delivery loop takes rows from here with `claim`, a
conditional UPDATE with a lease, so several API processes never send one row
at once, and each bot's events reach each endpoint in order: a row is due only
when every earlier row for the same bot and endpoint is settled.
"""

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, event, exists, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, object_session

from unmixed.logs import register_secret
from unmixed.store.database import Database, changed
from unmixed.store.models import (
    BotRow,
    WebhookEndpointRow,
    WebhookOutboxRow,
    WebhookSecretRow,
)
from unmixed.wire.common import iso_utc

LEASE = timedelta(seconds=30)
"""How long a claimed row is left to its sender: twice the longest try (15 s), so a
live sender never loses it, and a dead one's rows wait at most this long."""
MAX_ERROR_LENGTH = 500

_PENDING = "unmixed.webhooks_pending"
_wakers: list[Callable[[], object]] = []
_wakers_lock = threading.Lock()


def on_enqueued(wake: Callable[[], object]) -> Callable[[], None]:
    """Call `wake` (from the committing thread) whenever a transaction of this process
    that stored events commits; returns the call that stops it."""
    with _wakers_lock:
        _wakers.append(wake)

    def stop() -> None:
        with _wakers_lock:
            _wakers.remove(wake)

    return stop


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        with _wakers_lock:
            wakers = list(_wakers)
        for wake in wakers:
            wake()


def owned_by(column: InstrumentedAttribute[int | None], key_id: int | None) -> ColumnElement[bool]:
    """`column` names the account of `key_id` (None: the environment key's)."""
    return column.is_(None) if key_id is None else column == key_id


def enqueue_status_event(
    bot: BotRow, code: str, sub_code: str | None, updated_at: datetime
) -> None:
    """Add `bot.<code>` for each of the bot owner's endpoints to the bot's transaction,
    in Recall's shape."""
    session = object_session(bot)
    if session is None:
        raise RuntimeError("a status event needs the bot's session")
    endpoint_ids = session.scalars(
        select(WebhookEndpointRow.id).where(owned_by(WebhookEndpointRow.api_key_id, bot.api_key_id))
    ).all()
    if not endpoint_ids:
        return
    body = json.dumps(
        {
            "event": f"bot.{code}",
            "data": {
                "data": {"code": code, "sub_code": sub_code, "updated_at": iso_utc(updated_at)},
                "bot": {"id": bot.id, "metadata": bot.bot_metadata},
            },
        }
    )
    for endpoint_id in endpoint_ids:
        session.add(
            WebhookOutboxRow(
                webhook_id=f"msg_{secrets.token_urlsafe(18)}",
                bot_id=bot.id,
                api_key_id=bot.api_key_id,
                endpoint_id=endpoint_id,
                body=body,
                created_at=updated_at,
                attempts=0,
                next_attempt_at=updated_at,
            )
        )
    session.info[_PENDING] = True


@dataclass(frozen=True)
class ClaimedEvent:
    """One try's worth: what to send where, signed with which secret."""

    id: int
    webhook_id: str
    url: str
    body: str
    secret: str
    attempts: int
    """Tries so far, this one included."""
    created_at: datetime


class Outbox:
    def __init__(self, database: Database) -> None:
        self._sessions = database.sessions

    def claim(self, limit: int) -> list[ClaimedEvent]:
        """Lease up to `limit` due rows, each the oldest unsettled one of its bot and
        endpoint. A row another process leased first is skipped, not waited for."""
        now = datetime.now(UTC)
        earlier = aliased(WebhookOutboxRow)
        unsettled_before = exists().where(
            earlier.bot_id == WebhookOutboxRow.bot_id,
            earlier.endpoint_id == WebhookOutboxRow.endpoint_id,
            earlier.id < WebhookOutboxRow.id,
            earlier.delivered_at.is_(None),
            earlier.failed_at.is_(None),
        )
        free = (WebhookOutboxRow.claimed_until.is_(None)) | (WebhookOutboxRow.claimed_until < now)
        with self._sessions.begin() as session:
            candidates = session.execute(
                select(WebhookOutboxRow, WebhookEndpointRow.url, WebhookSecretRow.secret)
                .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookOutboxRow.endpoint_id)
                .join(
                    WebhookSecretRow,
                    func.coalesce(WebhookSecretRow.api_key_id, 0)
                    == func.coalesce(WebhookOutboxRow.api_key_id, 0),
                )
                .where(
                    WebhookOutboxRow.delivered_at.is_(None),
                    WebhookOutboxRow.failed_at.is_(None),
                    WebhookOutboxRow.next_attempt_at <= now,
                    free,
                    ~unsettled_before,
                )
                .order_by(WebhookOutboxRow.id)
                .limit(limit)
            ).all()
            claimed = []
            for row, url, secret in candidates:
                won = changed(
                    session,
                    update(WebhookOutboxRow)
                    .where(
                        WebhookOutboxRow.id == row.id,
                        WebhookOutboxRow.attempts == row.attempts,
                        WebhookOutboxRow.delivered_at.is_(None),
                        WebhookOutboxRow.failed_at.is_(None),
                        free,
                    )
                    .values(claimed_until=now + LEASE, attempts=row.attempts + 1),
                )
                if won:
                    register_secret(secret)
                    claimed.append(
                        ClaimedEvent(
                            id=row.id,
                            webhook_id=row.webhook_id,
                            url=url,
                            body=row.body,
                            secret=secret,
                            attempts=row.attempts + 1,
                            created_at=row.created_at,
                        )
                    )
            return claimed

    def delivered(self, event: "ClaimedEvent") -> None:
        self._settle(event, delivered_at=datetime.now(UTC), last_error=None)

    def retry(self, event: "ClaimedEvent", at: datetime, error: str) -> None:
        self._settle(event, next_attempt_at=at, last_error=error[:MAX_ERROR_LENGTH])

    def failed(self, event: "ClaimedEvent", error: str) -> None:
        self._settle(event, failed_at=datetime.now(UTC), last_error=error[:MAX_ERROR_LENGTH])

    def _settle(self, event: "ClaimedEvent", **values: object) -> None:
        """Record how a try ended, if the claim is still ours: a sender too slow to
        settle within its lease has lost the row to another, whose try counts."""
        with self._sessions.begin() as session:
            session.execute(
                update(WebhookOutboxRow)
                .where(
                    WebhookOutboxRow.id == event.id,
                    WebhookOutboxRow.attempts == event.attempts,
                    WebhookOutboxRow.claimed_until.is_not(None),
                )
                .values(claimed_until=None, **values)
                .execution_options(synchronize_session=False)
            )
