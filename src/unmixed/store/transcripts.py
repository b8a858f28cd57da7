"""Transcripts: each recording's final utterances, written by its bot as they are said."""

import json

from sqlalchemy import select

from unmixed.store.database import Database
from unmixed.store.models import BotRow, RecordingRow, UtteranceRow
from unmixed.store.repository import Owner
from unmixed.wire.realtime import TranscriptEntry


class Transcripts:
    def __init__(self, database: Database) -> None:
        self._sessions = database.sessions

    def add(self, recording_id: str, utterance: TranscriptEntry) -> None:
        """Keep one final utterance (its words are never empty)."""
        with self._sessions.begin() as session:
            session.add(
                UtteranceRow(
                    recording_id=recording_id,
                    started=utterance.words[0].start_timestamp.relative,
                    participant=utterance.participant.model_dump(mode="json"),
                    words=[word.model_dump(mode="json") for word in utterance.words],
                )
            )

    def failed(self, recording_id: str, sub_code: str) -> None:
        """The transcript will have no more: shown as its status, `failed`, with `sub_code`."""
        with self._sessions.begin() as session:
            session.get_one(RecordingRow, recording_id).transcript_failure = sub_code

    def download(self, transcript_id: str, owner: Owner) -> bytes | None:
        """The transcript so far, as the JSON its download answers: each final utterance,
        in the order it was said; None if `owner` has no such transcript. Rendered here,
        from what was stored (validated when it was written), so that a long meeting's
        transcript is never validated again on the API's event loop."""
        with self._sessions() as session:
            recording_id = session.scalar(
                select(RecordingRow.id)
                .join(BotRow, BotRow.id == RecordingRow.bot_id)
                .where(RecordingRow.transcript_id == transcript_id, owner.condition())
            )
            if recording_id is None:
                return None
            rows = session.execute(
                select(UtteranceRow.participant, UtteranceRow.words)
                .where(UtteranceRow.recording_id == recording_id)
                .order_by(UtteranceRow.started, UtteranceRow.id)
            )
            entries = [{"participant": participant, "words": words} for participant, words in rows]
        return json.dumps(entries, separators=(",", ":")).encode()
