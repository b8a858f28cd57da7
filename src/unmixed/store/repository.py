"""Reading and writing bots and keys. Every method is one short transaction."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, or_, select, text, update
from sqlalchemy.orm import Session, selectinload

from unmixed.store.database import Database, changed
from unmixed.store.models import ApiKey, BotRow, RecordingRow, StatusChangeRow
from unmixed.store.outbox import enqueue_status_event
from unmixed.wire.bots import (
    AutomaticLeave,
    Bot,
    BotCreate,
    MediaShortcuts,
    Recording,
    RecordingConfig,
    RecordingStatus,
    StatusChange,
    TranscriptArtifact,
    TranscriptConfig,
    TranscriptDownload,
    ZoomOptions,
)
from unmixed.wire.meeting_url import MeetingUrl, Platform
from unmixed.wire.status import FINAL_CODES, StatusCode


def now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """A stored key as `unmixed keys list` shows it: never the key itself."""

    id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeys:
    """API keys, stored as SHA-256 digests: a leaked database leaks no usable key."""

    def __init__(self, database: Database) -> None:
        self._sessions = database.sessions

    def create(self, label: str = "") -> str:
        key = f"umx_{secrets.token_urlsafe(32)}"
        with self._sessions.begin() as session:
            session.add(ApiKey(key_hash=hash_key(key), label=label, created_at=now()))
        return key

    def find(self, key: str) -> int | None:
        """The id of `key` if it is stored and not revoked."""
        with self._sessions() as session:
            return session.scalar(
                select(ApiKey.id).where(
                    ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)
                )
            )

    def all(self) -> list[KeyInfo]:
        with self._sessions() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.id))
            return [KeyInfo(row.id, row.label, row.created_at, row.revoked_at) for row in rows]

    def revoke(self, key_id: int) -> bool:
        """Make the key useless from the next request on; False if there is no such key."""
        with self._sessions.begin() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                return False
            if row.revoked_at is None:
                row.revoked_at = now()
            return True


@dataclass(frozen=True)
class Owner:
    """Whose bots these are: a stored key's, or (`key_id` None) the environment key's."""

    key_id: int | None

    def condition(self) -> ColumnElement[bool]:
        if self.key_id is None:
            return BotRow.api_key_id.is_(None)
        return BotRow.api_key_id == self.key_id


ENVIRONMENT_KEY = Owner(None)


@dataclass(frozen=True)
class BotRecord:
    """What a bot process needs to know about itself."""

    id: str
    meeting_url: str
    meeting: MeetingUrl
    bot_name: str
    metadata: dict[str, str]
    recording_config: RecordingConfig
    automatic_leave: AutomaticLeave
    status: str
    owner: Owner = ENVIRONMENT_KEY
    """The account whose key made the bot, whose verification secret signs its requests."""
    zoom: ZoomOptions | None = None


@dataclass(frozen=True)
class BotFilters:
    """The filters of Recall's bot list, all optional."""

    statuses: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    join_at_after: datetime | None = None
    join_at_before: datetime | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    def conditions(self, dialect: str) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.statuses:
            conditions.append(BotRow.status.in_(self.statuses))
        if self.platforms:
            conditions.append(BotRow.platform.in_(self.platforms))
        if self.join_at_after is not None:
            conditions.append(BotRow.join_at >= self.join_at_after)
        if self.join_at_before is not None:
            conditions.append(BotRow.join_at <= self.join_at_before)
        for key, value in self.metadata:
            conditions.append(_metadata_is(dialect, key, value))
        return conditions


def _metadata_is(dialect: str, key: str, value: str) -> ColumnElement[bool]:
    """`metadata[key] == value`. On SQLite a JSON path is built from the raw key, which
    misses keys the stored JSON escapes (quotes, backslashes, non-ASCII), so there the
    object's pairs are searched instead."""
    if dialect != "sqlite":
        return BotRow.bot_metadata[key].as_string() == value
    pairs = func.json_each(BotRow.bot_metadata).table_valued("key", "value")
    return exists(select(1).select_from(pairs).where(pairs.c.key == key, pairs.c.value == value))


@dataclass(frozen=True)
class RecordingRef:
    id: str
    started_at: datetime


@dataclass(frozen=True)
class SlotLimit:
    """How many bots may hold a slot, and how soon a bot is due for it to hold one."""

    capacity: int
    ad_hoc_within: timedelta


class NoFreeSlot(Exception):
    """Every bot slot is held."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"all {capacity} bot slots are held")
        self.capacity = capacity


class Bots:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._sessions = database.sessions

    def create(
        self,
        request: BotCreate,
        meeting: MeetingUrl,
        owner: Owner,
        *,
        slots: SlotLimit | None = None,
    ) -> Bot:
        """Store a new bot in `ready`, giving its artifact and each endpoint an id.
        With `slots`, only if a slot is free (else `NoFreeSlot`): counted and taken in
        one transaction, under a lock every API process takes, so that two requests
        never both take the last slot, whichever replica they reach.

        Like every write of a bot, it is rendered before it commits (`_rendered`).
        """
        moment = now()
        row = BotRow(
            id=_new_id(),
            api_key_id=owner.key_id,
            recording_config=_identified(request.recording_config),
            created_at=moment,
            status=StatusCode.READY,
        )
        _write_request(row, request, meeting)
        row.status_changes.append(StatusChangeRow(code=StatusCode.READY, created_at=moment))
        with self._sessions.begin() as session:
            if slots is not None:
                _admit(session, slots, row.slots)
            session.add(row)
            return _rendered(session, row)

    def request(self, bot_id: str) -> BotCreate:
        """What the bot was asked for, as the request that would create it now:
        what an update applies its changes to."""
        with self._sessions() as session:
            row = session.get_one(BotRow, bot_id)
            return BotCreate(
                meeting_url=row.meeting_url,
                bot_name=row.bot_name,
                metadata=row.bot_metadata,
                recording_config=RecordingConfig.model_validate(row.recording_config),
                automatic_leave=AutomaticLeave.model_validate(row.automatic_leave),
                join_at=row.join_at,
                zoom=ZoomOptions.model_validate(row.platform_options)
                if row.platform_options
                else None,
            )

    def update(
        self,
        bot_id: str,
        request: BotCreate,
        meeting: MeetingUrl,
        *,
        slots: SlotLimit | None = None,
    ) -> Bot:
        """Rewrite a bot that has not been dispatched from its changed request. Its
        artifacts and endpoints keep their ids while their config is unchanged; a new
        config gets new ids, as at creation. With `slots`, as `create`: the bot is
        brought within the ad hoc window, or asks for more slots there, so it needs
        them free (those it holds already count as free for it)."""
        with self._sessions.begin() as session:
            row = _ready_row(session, bot_id)
            if slots is not None:
                _admit(session, slots, slots_needed(request), excluding=bot_id)
            if request.recording_config.model_dump(mode="json") != row.recording_config:
                row.recording_config = _identified(request.recording_config)
            _write_request(row, request, meeting)
            return _rendered(session, row)

    def delete(self, bot_id: str) -> None:
        """Remove a bot with its status changes and recordings: a scheduled bot
        called off before it was dispatched leaves nothing behind."""
        with self._sessions.begin() as session:
            session.delete(_ready_row(session, bot_id))

    def get(self, bot_id: str, owner: Owner | None = None) -> Bot | None:
        """The bot as the API shows it; with `owner`, only if it is theirs."""
        with self._sessions() as session:
            query = (
                select(BotRow)
                .where(BotRow.id == bot_id)
                .options(selectinload(BotRow.status_changes), selectinload(BotRow.recordings))
            )
            if owner is not None:
                query = query.where(owner.condition())
            row = session.scalar(query)
            return None if row is None else _to_wire(row)

    def page(
        self, owner: Owner, filters: "BotFilters", *, offset: int, limit: int
    ) -> tuple[int, list[Bot]]:
        """One page of the owner's bots, newest first, and how many match in all."""
        with self._sessions() as session:
            conditions = [owner.condition(), *filters.conditions(session.get_bind().dialect.name)]
            count = session.scalar(select(func.count()).select_from(BotRow).where(*conditions))
            rows = session.scalars(
                select(BotRow)
                .where(*conditions)
                .order_by(BotRow.created_at.desc(), BotRow.id)
                .offset(offset)
                .limit(limit)
                .options(selectinload(BotRow.status_changes), selectinload(BotRow.recordings))
            )
            return count or 0, [_to_wire(row) for row in rows]

    def record(self, bot_id: str) -> BotRecord:
        with self._sessions() as session:
            row = session.get_one(BotRow, bot_id)
            return BotRecord(
                id=row.id,
                meeting_url=row.meeting_url,
                meeting=_meeting(row),
                bot_name=row.bot_name,
                metadata=dict(row.bot_metadata),
                recording_config=RecordingConfig.model_validate(row.recording_config),
                automatic_leave=AutomaticLeave.model_validate(row.automatic_leave),
                status=row.status,
                owner=Owner(row.api_key_id),
                zoom=ZoomOptions.model_validate(row.platform_options)
                if row.platform_options and row.platform == Platform.ZOOM
                else None,
            )

    def change_status(
        self, bot_id: str, code: str, sub_code: str | None = None, message: str | None = None
    ) -> bool:
        """Append a status change; False when the bot had already finished."""
        with self._sessions.begin() as session:
            row = locked_row(session, bot_id, BotRow.status.not_in(FINAL_CODES))
            return row is not None and append_status(row, code, sub_code, message, now())

    def endpoint_failed(self, bot_id: str, endpoint_id: str) -> None:
        """Show on the bot that it gave up on one of its realtime endpoints."""
        with self._sessions.begin() as session:
            row = session.get_one(BotRow, bot_id, with_for_update=True)
            config = RecordingConfig.model_validate(row.recording_config)
            for endpoint in config.realtime_endpoints:
                if endpoint.id == endpoint_id:
                    endpoint.status = "failed"
            row.recording_config = config.model_dump(mode="json")

    def start_recording(self, bot_id: str) -> RecordingRef | None:
        """Enter `in_call_recording` and open the recording its audio belongs to,
        in one transaction; None if the bot had already finished."""
        moment = now()
        with self._sessions.begin() as session:
            row = locked_row(session, bot_id, BotRow.status.not_in(FINAL_CODES))
            if row is None or not append_status(
                row, StatusCode.IN_CALL_RECORDING, None, None, moment
            ):
                return None
            transcript = RecordingConfig.model_validate(row.recording_config).transcript
            recording = RecordingRow(
                id=_new_id(),
                created_at=moment,
                started_at=moment,
                status_code="processing",
                status_updated_at=moment,
                transcript_id=transcript.id if transcript is not None else None,
            )
            row.recordings.append(recording)
            return RecordingRef(id=recording.id, started_at=moment)


ADMISSION_LOCK_KEY = int.from_bytes(b"unmixed+")
"""The PostgreSQL advisory lock around counting slots and storing a bot."""


def _admit(
    session: Session, slots: SlotLimit, needed: int, *, excluding: str | None = None
) -> None:
    """`NoFreeSlot` unless `needed` slots are free (not counting those the bot
    `excluding` holds); admissions are serialised for the rest of the transaction: on
    PostgreSQL by an advisory lock, on SQLite by writing first, which takes the
    database's write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMISSION_LOCK_KEY})
    else:
        session.execute(update(BotRow).where(false()).values(status=BotRow.status))
    if slots_held(session, slots.ad_hoc_within, excluding=excluding) + needed > slots.capacity:
        raise NoFreeSlot(slots.capacity)


def slots_held(session: Session, ad_hoc_within: timedelta, *, excluding: str | None = None) -> int:
    """The slots of unfinished bots dispatched, or due within `ad_hoc_within` (or with no
    `join_at`), but for the bot `excluding`."""
    held = session.scalar(
        select(func.coalesce(func.sum(BotRow.slots), 0)).where(
            BotRow.status.not_in(FINAL_CODES),
            BotRow.id != (excluding or ""),
            or_(
                BotRow.dispatched_at.is_not(None),
                BotRow.join_at.is_(None),
                BotRow.join_at < now() + ad_hoc_within,
            ),
        )
    )
    return int(held or 0)


TRANSCRIBING_BOT_SLOTS = 3
"""Slots a bot that transcribes holds. With Whisper tiny.en a bot was measured at 384 MiB
RSS against 107, and 13 % of a core per speaking participant against 2 % (README,
"Measured"): about three bots' worth, so that a tenant who asks every bot for a
transcript cannot run a machine out of memory sized for plain bots."""


def slots_needed(request: BotCreate) -> int:
    return TRANSCRIBING_BOT_SLOTS if request.recording_config.transcript is not None else 1


class BotNotReady(Exception):
    """The bot has been dispatched: some scheduler (this API's or another's) took it."""


def _ready_row(session: Session, bot_id: str) -> BotRow:
    """The bot's row if it is still `ready` and not dispatched, locked for the rest of
    the transaction, so that no scheduler dispatches it while it is changed or deleted."""
    row = locked_row(
        session, bot_id, BotRow.status == StatusCode.READY, BotRow.dispatched_at.is_(None)
    )
    if row is None:
        raise BotNotReady(bot_id)
    return row


def locked_row(session: Session, bot_id: str, *conditions: ColumnElement[bool]) -> BotRow | None:
    """The bot's row if `conditions` hold, locked for the rest of the transaction.

    The check is a conditional `UPDATE` that changes nothing, as the transaction's
    first statement: it takes the row lock (PostgreSQL) or the write lock (SQLite)
    at once and checks under it, where a `SELECT ... FOR UPDATE` would check a
    snapshot on SQLite that another process may have changed since.
    """
    if not changed(
        session, update(BotRow).where(BotRow.id == bot_id, *conditions).values(status=BotRow.status)
    ):
        return None
    return session.get_one(BotRow, bot_id, populate_existing=True)


def _identified(config: RecordingConfig) -> dict[str, Any]:
    """`config` as stored: its artifacts and each endpoint with an id of their own
    (ids a client sent are never kept)."""
    config = config.model_copy(deep=True)
    for artifact in (
        config.audio_separate_raw,
        config.audio_mixed_raw,
        config.participant_events,
        config.transcript,
    ):
        if artifact is not None:
            artifact.id = _new_id()
    for endpoint in config.realtime_endpoints:
        endpoint.id = _new_id()
        endpoint.status = None
    return config.model_dump(mode="json")


def _write_request(row: BotRow, request: BotCreate, meeting: MeetingUrl) -> None:
    """Everything of `request` but its recording config, which gets ids (`_identified`)."""
    row.slots = slots_needed(request)
    row.meeting_url = request.meeting_url
    row.platform = meeting.platform.value
    row.meeting_id = meeting.meeting_id
    row.meeting_password = meeting.meeting_password
    row.bot_name = request.bot_name
    row.bot_metadata = request.metadata
    row.automatic_leave = request.automatic_leave.model_dump(mode="json")
    row.platform_options = request.zoom.model_dump(mode="json") if request.zoom else None
    row.join_at = request.join_at


def _rendered(session: Session, row: BotRow) -> Bot:
    """The bot as the API shows it, rendered before the transaction commits: a bot
    that could not be shown is never stored, so no stored bot can make a later read fail."""
    session.flush()
    bot = _to_wire(row)
    bot.model_dump_json()
    return bot


def append_status(
    row: BotRow, code: str, sub_code: str | None, message: str | None, moment: datetime
) -> bool:
    """Append a status change (False if the bot had finished). Leaving the call or
    failing also closes the bot's open recording, so a recording never outlives the
    bot that made it; finishing gives up the bot's lease."""
    if row.status in FINAL_CODES:
        return False
    row.status = code
    if code in FINAL_CODES:
        row.lease_until = None
    row.status_changes.append(
        StatusChangeRow(code=code, sub_code=sub_code, message=message, created_at=moment)
    )
    enqueue_status_event(row, code, sub_code, moment)
    if code in (StatusCode.RECORDING_DONE, StatusCode.CALL_ENDED, *FINAL_CODES):
        recording_code = "failed" if code == StatusCode.FATAL else "done"
        for recording in row.recordings:
            if recording.completed_at is None:
                recording.completed_at = moment
                recording.status_code = recording_code
                recording.status_sub_code = sub_code
                recording.status_updated_at = moment
    return True


def _meeting(row: BotRow) -> MeetingUrl:
    return MeetingUrl(
        meeting_id=row.meeting_id,
        meeting_password=row.meeting_password,
        platform=Platform(row.platform),
    )


def _to_wire(row: BotRow) -> Bot:
    config = RecordingConfig.model_validate(row.recording_config)
    return Bot(
        id=row.id,
        meeting_url=_meeting(row),
        bot_name=row.bot_name,
        metadata=row.bot_metadata,
        recording_config=config,
        automatic_leave=AutomaticLeave.model_validate(row.automatic_leave),
        join_at=row.join_at,
        status_changes=[
            StatusChange(
                code=change.code,
                sub_code=change.sub_code,
                message=change.message,
                created_at=change.created_at,
            )
            for change in row.status_changes
        ],
        recordings=[_recording(recording, config.transcript) for recording in row.recordings],
    )


def _recording(row: RecordingRow, transcript: TranscriptConfig | None) -> Recording:
    status = RecordingStatus(
        code=row.status_code, sub_code=row.status_sub_code, updated_at=row.status_updated_at
    )
    shortcuts = MediaShortcuts()
    if row.transcript_id is not None and transcript is not None:
        shortcuts.transcript = TranscriptArtifact(
            id=row.transcript_id,
            created_at=row.created_at,
            status=status
            if row.transcript_failure is None
            else RecordingStatus(
                code="failed", sub_code=row.transcript_failure, updated_at=row.status_updated_at
            ),
            metadata=transcript.metadata,
            data=TranscriptDownload(download_url=transcript_download_path(row.transcript_id)),
            diarization=transcript.diarization,
            provider=transcript.provider,
        )
    return Recording(
        id=row.id,
        created_at=row.created_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        status=status,
        media_shortcuts=shortcuts,
    )


def transcript_download_path(transcript_id: str) -> str:
    """Where the API serves a transcript, from its root (it adds its own address)."""
    return f"/api/v1/transcript/{transcript_id}/download/"
