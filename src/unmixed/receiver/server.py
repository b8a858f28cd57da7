"""`AudioReceiver`: accept the bot's connections, validate every message, keep the audio."""

import asyncio
import base64
import json
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, TextIO

import numpy as np
import pydantic
import structlog
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from unmixed.receiver.timeline import MemoryTimeline, SpooledTimeline, Timeline, blocks
from unmixed.receiver.tracks import ConnectionRecord, ParticipantAudio
from unmixed.receiver.transcripts import TranscriptBook
from unmixed.service import Service
from unmixed.wire.realtime import (
    SAMPLE_RATE,
    AudioMixedRawMessage,
    ParticipantEventMessage,
    RealtimeMessage,
    TranscriptMessage,
)

log = structlog.get_logger(__name__)

REALTIME_MESSAGE: pydantic.TypeAdapter[RealtimeMessage] = pydantic.TypeAdapter(
    Annotated[RealtimeMessage, pydantic.Field(discriminator="event")]
)


@dataclass(frozen=True)
class ParticipantEvent:
    """One `participant_events.*` message, as a receiver would keep it."""

    event: str
    participant_id: int
    name: str | None
    relative: float
    """Seconds on the recording's timeline, as the participant's audio."""
    arrived_at: float


class AudioReceiver(Service):
    """A websocket server for `audio_separate_raw.data`, the user's side of the stream
    (and for participant events, transcripts and the mixed audio, if the bot sends them).

    `async with AudioReceiver(port=9000, out_dir=Path("out")) as receiver:`
    serves until the block ends; `receiver.wait_for(...)` waits for a condition
    on what has arrived, and `write_wavs()` saves one aligned WAV per participant.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        out_dir: Path | None = None,
        spool: bool = False,
        secret: str | None = None,
    ) -> None:
        """`secret`: the account's verification secret; when given, a connection whose
        upgrade is not signed with it is refused (401), as Recall's sample receiver does."""
        self.host = host
        self.port = port
        self.out_dir = out_dir
        if spool and out_dir is None:
            raise ValueError("spooling audio to disk needs an out_dir")
        self._spool = spool
        self._secret = secret
        self.refused_upgrades = 0
        self.participants: dict[tuple[str, int], ParticipantAudio] = {}
        self.connections: list[ConnectionRecord] = []
        self.invalid_messages: list[str] = []
        self.mixed = MemoryTimeline()
        """`audio_mixed_raw.data`, on the recording's timeline (one recording at a time)."""
        self.participant_events: list[ParticipantEvent] = []
        """`participant_events.*` in the order they arrived, whatever the connection."""
        self.transcripts = TranscriptBook(out_dir)
        """`transcript.data` and `transcript.partial_data`, by participant."""
        self._server: Server | None = None
        self._changed = asyncio.Condition()
        self._events: TextIO | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    async def start(self) -> None:
        self._server = await serve(
            self._serve,
            self.host,
            self.port,
            max_size=2**22,
            process_request=self._verify if self._secret is not None else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.out_dir is not None and self._events is None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._events = (self.out_dir / "events.jsonl").open("a", encoding="utf-8")

    async def stop(self) -> None:
        """Close the server and every connection (the bot sees its receiver go away).

        What arrived is kept, and `start` serves again on the same port.
        """
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._events is not None:
            self._events.close()
            self._events = None

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> None:
        """Return as soon as `condition()` holds; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    def participant(self, name: str, *, bot_id: str | None = None) -> ParticipantAudio:
        """The participant called `name` (the only recording, or the latest); with
        `bot_id`, as that bot heard them, for a receiver that several bots stream to."""
        found = self.heard(name, bot_id=bot_id)
        if found is None:
            heard = [(a.name, a.bot_id) for a in self.participants.values()]
            of_bot = f" of bot {bot_id}" if bot_id is not None else ""
            raise KeyError(f"no audio from {name!r}{of_bot}; have (name, bot id) {heard}")
        return found

    def heard(self, name: str, *, bot_id: str | None = None) -> ParticipantAudio | None:
        """As `participant`, but None where nothing of them arrived."""
        found = [
            audio
            for audio in self.participants.values()
            if audio.name == name and (bot_id is None or audio.bot_id == bot_id)
        ]
        return found[-1] if found else None

    def write_wavs(self, out_dir: Path) -> dict[str, Path]:
        """One WAV per participant, all the same length, aligned at relative time 0.

        Files are named `<first 8 characters of the recording id>-participant-<id>.wav`,
        so several recordings can share a folder; the mapping is in order of id.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        length = max((p.audio.length for p in self.participants.values()), default=0)
        paths: dict[str, Path] = {}
        for participant in sorted(self.participants.values(), key=lambda p: (p.recording_id, p.id)):
            path = out_dir / f"{_file_stem(participant.recording_id, participant.id)}.wav"
            with wave.open(str(path), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(SAMPLE_RATE)
                for block in blocks(participant.audio, length):
                    wav.writeframes(block.astype("<i2").tobytes())
            paths[participant.name or str(participant.id)] = path
        return paths

    def release(self) -> None:
        """Let go of the received audio, deleting spool files."""
        for participant in self.participants.values():
            participant.audio.close()
            if isinstance(participant.audio, SpooledTimeline):
                participant.audio.path.unlink(missing_ok=True)

    def _timeline_for(self, recording_id: str, participant_id: int) -> Timeline:
        if not self._spool:
            return MemoryTimeline()
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return SpooledTimeline(self.out_dir / f"{_file_stem(recording_id, participant_id)}.pcm")

    def _verify(self, connection: ServerConnection, request: Request) -> Response | None:
        assert self._secret is not None
        try:
            Webhook(self._secret).verify("", dict(request.headers.raw_items()))
        except WebhookVerificationError:
            self.refused_upgrades += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "not signed by unmixed\n")
        except json.JSONDecodeError:
            pass  # the signature matched; `verify` then parses the (empty) payload as JSON
        return None

    async def _serve(self, socket: ServerConnection) -> None:
        path = socket.request.path if socket.request is not None else "/"
        connection = ConnectionRecord(path=path, opened_at=time.time())
        self.connections.append(connection)
        await self._notify("connection_opened", path=path)
        try:
            async for raw in socket:
                await self._receive(raw, connection)
        except Exception as error:
            log.warning("receiver connection ended abnormally", error=repr(error))
        finally:
            connection.closed_at = time.time()
            connection.close_code = socket.close_code
            await self._notify(
                "connection_closed", path=path, participant_id=connection.participant_id
            )

    async def _receive(self, raw: str | bytes, connection: ConnectionRecord) -> None:
        try:
            message = REALTIME_MESSAGE.validate_json(raw)
        except pydantic.ValidationError as error:
            self.invalid_messages.append(str(error))
            await self._notify("invalid_message", error=str(error))
            return
        if isinstance(message, ParticipantEventMessage):
            await self._participant_event(message)
            return
        if isinstance(message, AudioMixedRawMessage):
            await self._mixed_audio(message)
            return
        if isinstance(message, TranscriptMessage):
            await self._transcript(message)
            return
        payload = message.data
        key = (payload.recording.id, payload.data.participant.id)
        participant = self.participants.get(key)
        if participant is None:
            participant = self.participants[key] = ParticipantAudio(
                payload.recording.id, message, self._timeline_for(*key)
            )
        if connection.participant_id is None:
            connection.participant_id = participant.id
            participant.connections.append(connection)
        arrival = participant.add(message, connection)
        if len(connection.arrivals) == 1:
            connection.first_message = json.loads(raw)
            await self._notify(
                "first_message",
                participant_id=participant.id,
                name=participant.name,
                relative=arrival.relative,
            )
        else:
            await self._notify(None)

    async def _mixed_audio(self, message: AudioMixedRawMessage) -> None:
        data = message.data.data
        pcm = np.frombuffer(base64.b64decode(data.buffer), dtype="<i2")
        start = round(float(data.timestamp.relative) * SAMPLE_RATE)
        self.mixed.write(max(0, start), pcm[max(0, -start) :])
        await self._notify(None)

    async def _participant_event(self, message: ParticipantEventMessage) -> None:
        data = message.data.data
        event = ParticipantEvent(
            event=message.event,
            participant_id=data.participant.id,
            name=data.participant.name,
            relative=float(data.timestamp.relative),
            arrived_at=time.time(),
        )
        self.participant_events.append(event)
        await self._notify(
            message.event, participant_id=event.participant_id, relative=event.relative
        )

    async def _transcript(self, message: TranscriptMessage) -> None:
        line = self.transcripts.add(message, time.time())
        participant = message.data.data.participant
        await self._notify(
            message.event,
            participant_id=participant.id,
            start=line.start,
            end=line.end,
            text=line.text,
        )

    async def _notify(self, event: str | None, **fields: Any) -> None:
        if event is not None and self._events is not None:
            self._events.write(json.dumps({"event": event, "at": time.time(), **fields}) + "\n")
            self._events.flush()
        async with self._changed:
            self._changed.notify_all()


def _file_stem(recording_id: str, participant_id: int) -> str:
    return f"{recording_id[:8]}-participant-{participant_id}"
