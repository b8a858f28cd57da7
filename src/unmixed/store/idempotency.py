"""Idempotency keys: the first answer to a request, kept an hour to answer its retries.

As at Recall, a key counts per caller, method and path: the same key on another
route is another request. A record is claimed before the request runs, so a
retry that arrives while the first is still running finds it in progress
instead of running it a second time; the answer is written once it is known.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy import LargeBinary, String, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from unmixed.store.database import Database, changed
from unmixed.store.models import Base
from unmixed.store.repository import Owner

KEY_LIFETIME = timedelta(hours=1)
"""How long an answer is replayed, as at Recall; older records are deleted."""
IN_PROGRESS_LIFETIME = timedelta(minutes=2)
"""A claim whose request has not answered in this long died with its process (no
request takes that long: a create answers in well under a second); a retry runs."""


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    request_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of who asked, the method, the path and the key: the key itself is not kept."""
    body_digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the request body: a retry must send the same one."""
    created_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[int | None]
    """The answer's status code; None while the first request is running."""
    content_type: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class IdempotentRequest:
    """One request that carries an `Idempotency-Key`, reduced to digests."""

    request_key: str
    body_digest: str

    @classmethod
    def of(cls, owner: Owner, method: str, path: str, key: str, body: bytes) -> "IdempotentRequest":
        who = "environment" if owner.key_id is None else f"key:{owner.key_id}"
        scope = "\n".join((who, method.upper(), path.rstrip("/"), key))
        return cls(
            request_key=hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest(),
            body_digest=hashlib.sha256(body).hexdigest(),
        )


class Pending(Enum):
    """Why a request may not run now, when no stored answer replaces it."""

    IN_PROGRESS = "in_progress"
    """The first request with this key has not answered yet."""
    OTHER_BODY = "other_body"
    """The key was used within the hour for a request with another body."""


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    content_type: str | None
    body: bytes


def _retake(session: Session, row: IdempotencyRow, now: datetime) -> bool:
    """Claim again a request whose first try died with its process; False if another
    retry took it first.

    A compare-and-set on the claim time, not a write of the loaded row: on
    PostgreSQL, retries that arrive together each read the stale claim, and the
    row lock only orders their writes; the condition, checked again under the
    lock, lets the first one through and no other.
    """
    return changed(
        session,
        update(IdempotencyRow)
        .where(
            IdempotencyRow.request_key == row.request_key,
            IdempotencyRow.created_at == row.created_at,
            IdempotencyRow.status.is_(None),
        )
        .values(created_at=now),
    )


class IdempotencyKeys:
    def __init__(self, database: Database) -> None:
        self._sessions = database.sessions

    def claim(self, request: IdempotentRequest) -> StoredAnswer | Pending | None:
        """None: the request is now claimed and must run, then be `answer`ed or
        `release`d. Otherwise what to answer instead of running it."""
        now = datetime.now(UTC)
        try:
            with self._sessions.begin() as session:
                session.execute(
                    delete(IdempotencyRow).where(IdempotencyRow.created_at < now - KEY_LIFETIME)
                )
                row = session.get(IdempotencyRow, request.request_key)
                if row is None:
                    session.add(
                        IdempotencyRow(
                            request_key=request.request_key,
                            body_digest=request.body_digest,
                            created_at=now,
                        )
                    )
                    return None
                if row.body_digest != request.body_digest:
                    return Pending.OTHER_BODY
                if row.status is None or row.body is None:
                    if row.created_at > now - IN_PROGRESS_LIFETIME:
                        return Pending.IN_PROGRESS
                    return None if _retake(session, row, now) else Pending.IN_PROGRESS
                return StoredAnswer(row.status, row.content_type, row.body)
        except IntegrityError:
            return self._claimed_meanwhile(request)

    def _claimed_meanwhile(self, request: IdempotentRequest) -> Pending:
        """Another request with the key claimed it between our read and our write:
        it is running now (if its body is the same)."""
        with self._sessions() as session:
            row = session.get(IdempotencyRow, request.request_key)
            if row is not None and row.body_digest != request.body_digest:
                return Pending.OTHER_BODY
            return Pending.IN_PROGRESS

    def answer(
        self, request: IdempotentRequest, status: int, content_type: str | None, body: bytes
    ) -> None:
        """Keep the answer of a claimed request, for its retries."""
        with self._sessions.begin() as session:
            row = session.get_one(IdempotencyRow, request.request_key)
            row.status, row.content_type, row.body = status, content_type, body

    def release(self, request: IdempotentRequest) -> None:
        """Forget a claimed request whose answer is not to be replayed: a retry runs it again."""
        with self._sessions.begin() as session:
            session.execute(
                delete(IdempotencyRow).where(IdempotencyRow.request_key == request.request_key)
            )
