"""The tables. Columns use portable types only, so SQLite and PostgreSQL behave alike."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, PostgreSQL would convert."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: pass an aware UTC moment")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class BotRow(Base):
    __tablename__ = "bots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    """The key that made the bot; None for the key configured in the environment."""
    meeting_url: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    meeting_id: Mapped[str] = mapped_column(String(200))
    meeting_password: Mapped[str | None] = mapped_column(String(200))
    bot_name: Mapped[str] = mapped_column(String(100))
    bot_metadata: Mapped[dict[str, Any]] = mapped_column("metadata")
    recording_config: Mapped[dict[str, Any]]
    automatic_leave: Mapped[dict[str, Any]]
    platform_options: Mapped[dict[str, Any] | None]
    """What the platform needs beyond the URL (Recall's `zoom` tokens); never shown back."""
    join_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(64), index=True)
    dispatched_at: Mapped[datetime | None]
    """When the scheduler handed the bot to a launcher: set once, by one scheduler."""
    lease_until: Mapped[datetime | None] = mapped_column(index=True)
    """Set when a process claims the bot, renewed while it runs, cleared when it ends:
    a lease in the past means the process is gone (`Leases`)."""
    holder: Mapped[str | None] = mapped_column(String(200))
    """Which process holds the lease (host and pid), for operators."""
    leave_requested_at: Mapped[datetime | None]
    """`leave_call` (or a deletion) asked the bot to leave: it watches this column."""
    stream_reconnects: Mapped[int] = mapped_column(Integer, default=0)
    """Realtime connections the bot had to open again, as of its last lease renewal."""
    slots: Mapped[int] = mapped_column(Integer, default=1)
    """Bot slots it holds while it holds any: more for a bot that transcribes."""

    status_changes: Mapped[list["StatusChangeRow"]] = relationship(
        order_by="StatusChangeRow.id", cascade="all, delete-orphan"
    )
    recordings: Mapped[list["RecordingRow"]] = relationship(
        order_by="RecordingRow.created_at", cascade="all, delete-orphan"
    )


class StatusChangeRow(Base):
    __tablename__ = "bot_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    sub_code: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class RecordingRow(Base):
    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    status_code: Mapped[str] = mapped_column(String(64))
    status_sub_code: Mapped[str | None] = mapped_column(String(128))
    status_updated_at: Mapped[datetime]
    transcript_id: Mapped[str | None] = mapped_column(String(36), index=True, unique=True)
    """Set when the bot transcribes: the id of `recording_config.transcript`."""
    transcript_failure: Mapped[str | None] = mapped_column(String(128))
    """Why the transcript failed, as its status's sub_code; None while it follows the
    recording's status."""


class UtteranceRow(Base):
    """One final utterance of one participant: a transcript is its recording's rows, in
    the order they were said."""

    __tablename__ = "transcript_utterances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    started: Mapped[float] = mapped_column(Float)
    """Its first word's `relative` time: the order of the transcript."""
    participant: Mapped[dict[str, Any]]
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class WebhookSecretRow(Base):
    """An account's one signing secret (`whsec_...`), kept in the clear: signing needs it."""

    __tablename__ = "webhook_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    """The account: a stored key, or None for the environment key (one row each)."""
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class WebhookEndpointRow(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class WebhookOutboxRow(Base):
    """One event for one endpoint, written with the status change it announces.

    `id` orders events; `webhook_id` is what the receiver deduplicates on, the
    same on every try; `body` is the exact JSON sent, so every try signs the
    same bytes; `claimed_until` is the lease of the process sending it now.
    """

    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
