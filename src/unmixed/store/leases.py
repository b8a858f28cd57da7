"""Who runs which bot, and what it has been asked to do: the store's side of
running bots on many machines.

Leases are written and compared by the store's clock (`_clock`). Every change
here that more than one process may try at once is one
conditional `UPDATE` whose row count says who won, so it is atomic on SQLite
(one writer at a time) and on PostgreSQL (the row lock, and the condition
checked again after it) alike: a bot is dispatched once, claimed once,
declared lost once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import ColumnElement, DateTime, func, or_, select, update
from sqlalchemy.orm import Session

from unmixed.store.database import Database, changed
from unmixed.store.models import BotRow
from unmixed.store.repository import append_status, locked_row, now, slots_held
from unmixed.wire.status import StatusCode, SubCode

StoreTime = datetime | ColumnElement[datetime]
"""A moment by the store's clock: a value (SQLite) or the database's `now()` (PostgreSQL)."""

PROCESS_LOST_MESSAGE = "the bot's process ended, or stopped renewing its lease, before it finished"
NEVER_STARTED_MESSAGE = "the bot was handed to its launcher, but no process started it in time"


@dataclass(frozen=True)
class Renewal:
    """What a running bot learns when it renews its lease."""

    held: bool
    """False once the lease was taken from it (declared lost) or the bot has finished."""
    leave_requested: bool


class LeaveAsked(Enum):
    CALLED_OFF = "called_off"
    """The bot had not been dispatched: it ended here, and will never start."""
    SENT = "sent"
    """The bot was dispatched: it leaves as soon as it sees the request."""


class Leases:
    """Dispatching, claiming, leases and commands of bots."""

    def __init__(self, database: Database) -> None:
        self._sessions = database.sessions

    def due(self, lead: timedelta) -> list[tuple[str, str, bool]]:
        """Bots to dispatch now, oldest first: `ready`, not dispatched, and with no
        `join_at` or one at most `lead` away. With their platform, and whether they
        transcribe."""
        with self._sessions() as session:
            rows = session.execute(
                select(BotRow.id, BotRow.platform, BotRow.recording_config)
                .where(
                    BotRow.status == StatusCode.READY,
                    BotRow.dispatched_at.is_(None),
                    or_(BotRow.join_at.is_(None), BotRow.join_at <= now() + lead),
                )
                .order_by(BotRow.created_at)
            )
            return [
                (bot_id, platform, config.get("transcript") is not None)
                for bot_id, platform, config in rows
            ]

    def mark_dispatched(self, bot_id: str) -> bool:
        """Take the bot for launching; False if another scheduler (or a deletion) took it."""
        with self._sessions.begin() as session:
            return _won(session, bot_id, _undispatched(), dispatched_at=_clock(session))

    def undispatch(self, bot_id: str) -> bool:
        """Give a bot whose launch failed (a queue briefly out of reach) back to the
        schedulers, to be launched again; False if a process has claimed it since."""
        with self._sessions.begin() as session:
            return _won(session, bot_id, BotRow.status == StatusCode.READY, dispatched_at=None)

    def claim(self, bot_id: str, holder: str, lease: timedelta) -> bool:
        """Move a `ready` bot to `joining_call` under a lease held by `holder`; False
        if some process already had (a redelivered task, a second launch)."""
        moment = now()
        with self._sessions.begin() as session:
            taken = _won(
                session,
                bot_id,
                BotRow.status == StatusCode.READY,
                BotRow.lease_until.is_(None),
                lease_until=_clock(session) + lease,
                holder=holder[:200],
            )
            if taken:
                append_status(_row(session, bot_id), StatusCode.JOINING_CALL, None, None, moment)
            return taken

    def renew(self, bot_id: str, lease: timedelta, stream_reconnects: int) -> Renewal:
        with self._sessions.begin() as session:
            held = _won(
                session,
                bot_id,
                BotRow.lease_until.is_not(None),
                lease_until=_clock(session) + lease,
                stream_reconnects=stream_reconnects,
            )
            asked = session.scalar(select(BotRow.leave_requested_at).where(BotRow.id == bot_id))
            return Renewal(held=held, leave_requested=asked is not None)

    def leave_requested(self, bot_id: str) -> bool:
        with self._sessions() as session:
            asked = session.scalar(select(BotRow.leave_requested_at).where(BotRow.id == bot_id))
            return asked is not None

    def request_leave(self, bot_id: str) -> LeaveAsked:
        """Ask the bot to leave. One no process has claimed yet (scheduled, or queued for
        a worker) is called off on the spot (`call_ended`/`bot_received_leave_call`, then
        `done`): a process that gets to it later finds it over, and never joins."""
        moment = now()
        with self._sessions.begin() as session:
            if _won(session, bot_id, BotRow.status == StatusCode.READY, dispatched_at=moment):
                row = _row(session, bot_id)
                append_status(
                    row, StatusCode.CALL_ENDED, SubCode.BOT_RECEIVED_LEAVE_CALL, None, moment
                )
                append_status(row, StatusCode.DONE, None, None, moment)
                return LeaveAsked.CALLED_OFF
            _won(session, bot_id, BotRow.leave_requested_at.is_(None), leave_requested_at=moment)
            return LeaveAsked.SENT

    def expired(self) -> list[str]:
        """Bots whose lease ran out: their process is gone, or cannot reach the store."""
        with self._sessions() as session:
            expired = BotRow.lease_until < _clock(session)
            return list(session.scalars(select(BotRow.id).where(expired)))

    def declare_lost(self, bot_id: str) -> bool:
        """End a bot whose lease ran out in `fatal`/`bot_process_lost`, taking its lease,
        so that this happens once, whoever notices first."""
        return self._lost(bot_id, lambda clock: BotRow.lease_until < clock)

    def process_ended(self, bot_id: str, holder: str) -> bool:
        """The launcher saw `holder`'s process end: if that process held the bot (or
        ended before any process claimed it), the bot is lost, now rather than when its
        lease runs out. A second process of the bot, which lost the claim, ends nothing."""
        claimed_by_it = (BotRow.holder == holder) & BotRow.lease_until.is_not(None)
        unclaimed = BotRow.status == StatusCode.READY
        return self._lost(bot_id, lambda _: claimed_by_it | unclaimed)

    def _lost(self, bot_id: str, condition: Callable[[StoreTime], ColumnElement[bool]]) -> bool:
        moment = now()
        with self._sessions.begin() as session:
            if not _won(session, bot_id, condition(_clock(session)), lease_until=None):
                return False
            return append_status(
                _row(session, bot_id),
                StatusCode.FATAL,
                SubCode.BOT_PROCESS_LOST,
                PROCESS_LOST_MESSAGE,
                moment,
            )

    def never_started(self, within: timedelta) -> list[str]:
        """Bots dispatched longer than `within` ago that no process has claimed: their
        launch was lost (a worker that died holding it, a queue that was emptied)."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(BotRow.id).where(
                        BotRow.status == StatusCode.READY,
                        BotRow.dispatched_at < _clock(session) - within,
                    )
                )
            )

    def declare_never_started(self, bot_id: str, within: timedelta) -> bool:
        """End such a bot in `fatal`/`bot_process_lost`, once: a process that claims it
        later finds it finished and exits (its claim needs `ready`)."""
        moment = now()
        with self._sessions.begin() as session:
            row = locked_row(
                session,
                bot_id,
                BotRow.status == StatusCode.READY,
                BotRow.dispatched_at < _clock(session) - within,
            )
            if row is None:
                return False
            return append_status(
                row,
                StatusCode.FATAL,
                SubCode.BOT_PROCESS_LOST,
                NEVER_STARTED_MESSAGE,
                moment,
            )

    def slots_held(self, ad_hoc_within: timedelta) -> int:
        """Bots that hold a bot slot: every unfinished bot dispatched or due within
        `ad_hoc_within` (a bot scheduled further ahead takes its slot when it starts)."""
        with self._sessions() as session:
            return slots_held(session, ad_hoc_within)


def _clock(session: Session) -> StoreTime:
    """Now, by the clock leases are written and compared with. On PostgreSQL that is
    the database's own (UTC): processes on many machines then share one clock, and
    a machine whose clock runs ahead cannot take a healthy bot's lease for expired.
    SQLite serves one machine, whose clock this is."""
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", func.now(), type_=DateTime)
    return now()


def _undispatched() -> ColumnElement[bool]:
    return (BotRow.status == StatusCode.READY) & BotRow.dispatched_at.is_(None)


def _won(session: Session, bot_id: str, *conditions: ColumnElement[bool], **values: object) -> bool:
    """Set `values` on the bot if `conditions` hold: True if this call changed it."""
    return changed(session, update(BotRow).where(BotRow.id == bot_id, *conditions).values(**values))


def _row(session: Session, bot_id: str) -> BotRow:
    return session.get_one(BotRow, bot_id, populate_existing=True)
