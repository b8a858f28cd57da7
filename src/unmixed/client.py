"""Typed Python clients for unmixed's bot API: `AsyncUnmixedClient` and `UnmixedClient`.

They answer with the very models the API renders (`Bot`, `BotPage` from `unmixed.wire`),
so a client can never read a field the server does not send. Requests are sent as given
and checked by the server only: it is the one judge of what it accepts (its limits and
settings may differ from this copy's), and its `400` names the field at fault.

    with UnmixedClient("http://127.0.0.1:8000", api_key) as unmixed:
        bot = unmixed.create_bot("https://zoom.us/j/85512345678", bot_name="Notetaker")
        bot = unmixed.update_bot(bot.id, bot_name="Scribe")  # until it is dispatched
        for bot in unmixed.list_bots(status="done", metadata={"customer": "acme"}):
            ...
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx
from pydantic import BaseModel, RootModel

from unmixed.service import Service
from unmixed.wire.bots import ApiError, AutomaticLeave, Bot, BotPage, RecordingConfig, ZoomOptions
from unmixed.wire.realtime import TranscriptEntry

BOTS_PATH = "/api/v1/bot/"
TRANSCRIPTS_PATH = "/api/v1/transcript/"


class TranscriptBody(RootModel[list[TranscriptEntry]]):
    """A transcript download's body."""


DEFAULT_TIMEOUT = 30.0
Answer = TypeVar("Answer", bound=BaseModel)


class BotOptions(TypedDict, total=False):
    """Everything `POST /api/v1/bot/` takes besides `meeting_url`; what is left out gets
    the server's default (see docs/bots.md). Nested objects may be the wire models or
    plain dicts in their JSON shape."""

    bot_name: str
    metadata: Mapping[str, str]
    recording_config: RecordingConfig | Mapping[str, Any]
    automatic_leave: AutomaticLeave | Mapping[str, Any]
    join_at: datetime | str
    zoom: ZoomOptions | Mapping[str, Any]


class BotChanges(TypedDict, total=False):
    """What `PATCH /api/v1/bot/{id}/` may change on a bot not yet dispatched; what is left
    out keeps its value, what is sent is replaced whole. `join_at=None` makes it join now."""

    meeting_url: str
    bot_name: str
    metadata: Mapping[str, str]
    recording_config: RecordingConfig | Mapping[str, Any]
    automatic_leave: AutomaticLeave | Mapping[str, Any]
    join_at: datetime | str | None
    zoom: ZoomOptions | Mapping[str, Any] | None


class BotFilters(TypedDict, total=False):
    """The filters of `GET /api/v1/bot/`; a filter given several values matches any."""

    status: str | Sequence[str]
    platform: str | Sequence[str]
    join_at_after: datetime | str
    join_at_before: datetime | str
    metadata: Mapping[str, str]
    """Bots whose metadata holds every one of these pairs (`metadata__KEY=value`)."""


class UnmixedError(httpx.HTTPStatusError):
    """The API refused a request, with its JSON error: `code` (stable, for programs),
    `detail` (a sentence, for people) and `field` (the request field at fault, if one is).

    It is an `httpx.HTTPStatusError`, so code that handled httpx's own error (as callers
    of the first version of this client did) still catches it and finds `response`."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.error = _api_error(response)
        retry_after = response.headers.get("Retry-After", "")
        self.retry_after: int | None = int(retry_after) if retry_after.isdecimal() else None
        """Seconds to wait before trying again, on `429` and `507`."""
        message = f"{self.status_code} {self.error.code}: {self.error.detail}"
        super().__init__(message, request=response.request, response=response)

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def detail(self) -> str:
        return self.error.detail

    @property
    def field(self) -> str | None:
        return self.error.field


def _transcript_path(transcript_id: str) -> str:
    return f"{TRANSCRIPTS_PATH}{quote(transcript_id, safe='')}/download/"


def _api_error(response: httpx.Response) -> ApiError:
    """The API's error body; something in between (a proxy's HTML page) gets a stand-in,
    so the caller always has a code to branch on."""
    try:
        body = response.json()
        return ApiError(code=body["code"], detail=body["detail"], field=body.get("field"))
    except (ValueError, TypeError, KeyError):
        return ApiError(code="http_error", detail=f"HTTP {response.status_code}")


def _answer(response: httpx.Response, model: type[Answer]) -> Answer:
    if response.is_error:
        raise UnmixedError(response)
    return model.model_validate(response.json())


def _bot_path(bot_id: str, action: str = "") -> str:
    """The bot's own path; the id is quoted whole, so that no id can reach another route."""
    return f"{BOTS_PATH}{quote(bot_id, safe='')}/{action + '/' if action else ''}"


def _json(value: Any) -> Any:
    """A request value in its JSON shape; a model sends only the fields set on it, so
    the server's defaults apply to the rest, as they would for a dict."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _create_body(meeting_url: str, options: BotOptions) -> dict[str, Any]:
    return {"meeting_url": meeting_url, **{name: _json(value) for name, value in options.items()}}


def _update_body(changes: BotChanges) -> dict[str, Any]:
    return {name: _json(value) for name, value in changes.items()}


def _key_header(idempotency_key: str | None) -> dict[str, str]:
    """The `Idempotency-Key` header: a retry with the same key (and the same body) within
    the hour gets the first answer again, without the request running twice."""
    return {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}


def _deleted(response: httpx.Response) -> None:
    if response.is_error:
        raise UnmixedError(response)


def _list_params(page: int, filters: BotFilters) -> tuple[tuple[str, str], ...]:
    params = [("page", str(page))]
    params += [("status", value) for value in _values(filters.get("status", ()))]
    params += [("platform", value) for value in _values(filters.get("platform", ()))]
    if "join_at_after" in filters:
        params.append(("join_at_after", _json(filters["join_at_after"])))
    if "join_at_before" in filters:
        params.append(("join_at_before", _json(filters["join_at_before"])))
    params += [(f"metadata__{key}", value) for key, value in filters.get("metadata", {}).items()]
    return tuple(params)


def _values(given: str | Sequence[str]) -> Sequence[str]:
    """One value or several: a lone string is one value, not a sequence of letters."""
    return [given] if isinstance(given, str) else given


def _past_the_end(error: UnmixedError) -> bool:
    """A page that was there a moment ago may be gone (bots deleted meanwhile)."""
    return error.status_code == 404 and error.field == "page"


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Token {api_key}"}


class AsyncUnmixedClient(Service):
    """`async with AsyncUnmixedClient(base_url, api_key) as unmixed:`, then
    `await unmixed.create_bot(...)`; the demo, the benchmark and the tests use this one."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(api_key), timeout=timeout
        )

    async def create_bot(
        self,
        meeting_url: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[BotOptions],
    ) -> Bot:
        """Send a bot to `meeting_url` now, or at `join_at`. With `idempotency_key`, a retry
        with the same key and options within the hour answers the same bot, never a second."""
        response = await self._http.post(
            BOTS_PATH,
            json=_create_body(meeting_url, options),
            headers=_key_header(idempotency_key),
        )
        return _answer(response, Bot)

    async def update_bot(
        self, bot_id: str, *, idempotency_key: str | None = None, **changes: Unpack[BotChanges]
    ) -> Bot:
        """Change a scheduled bot until it is dispatched; `UnmixedError` `update_bot_failed`
        after that, `cannot_command_completed_bot` once it has left its call."""
        response = await self._http.patch(
            _bot_path(bot_id), json=_update_body(changes), headers=_key_header(idempotency_key)
        )
        return _answer(response, Bot)

    async def delete_bot(self, bot_id: str) -> None:
        """Delete a scheduled bot until it is dispatched, with all it has; `UnmixedError`
        `bot_already_dispatched` (405) after that: use `leave_call`."""
        _deleted(await self._http.delete(_bot_path(bot_id)))

    async def get_bot(self, bot_id: str) -> Bot:
        return _answer(await self._http.get(_bot_path(bot_id)), Bot)

    async def get_bot_page(self, page: int = 1, **filters: Unpack[BotFilters]) -> BotPage:
        """One page of this key's bots, newest first, 50 a page."""
        response = await self._http.get(BOTS_PATH, params=_list_params(page, filters))
        return _answer(response, BotPage)

    async def list_bots(self, **filters: Unpack[BotFilters]) -> AsyncIterator[Bot]:
        """Every bot that matches, page after page, each once (a bot created meanwhile
        pushes the others down the list, so a page may repeat the last one's)."""
        seen: set[str] = set()
        page = 1
        while True:
            try:
                answer = await self.get_bot_page(page, **filters)
            except UnmixedError as error:
                if _past_the_end(error):
                    return
                raise
            for bot in answer.results:
                if bot.id not in seen:
                    seen.add(bot.id)
                    yield bot
            if answer.next is None:
                return
            page += 1

    async def leave_call(self, bot_id: str) -> Bot:
        """Ask the bot to leave its call, or call off a scheduled one; it then ends
        `call_ended`/`bot_received_leave_call` and `done`."""
        return _answer(await self._http.post(_bot_path(bot_id, "leave_call")), Bot)

    async def get_transcript(self, transcript_id: str) -> list[TranscriptEntry]:
        """A recording's transcript so far (`media_shortcuts.transcript.id`): each final
        utterance's participant and words, in the order they were said."""
        return _answer(await self._http.get(_transcript_path(transcript_id)), TranscriptBody).root

    async def wait_for_status(
        self, bot_id: str, codes: AbstractSet[str], *, timeout: float, every: float = 0.2
    ) -> Bot:
        """Poll the bot, as a Recall client without webhooks would, until it reaches a code."""
        async with asyncio.timeout(timeout):
            while True:
                bot = await self.get_bot(bot_id)
                if bot.status_changes[-1].code in codes:
                    return bot
                await asyncio.sleep(every)

    async def start(self) -> None:
        """Nothing to do: connections open on first use."""

    async def stop(self) -> None:
        await self._http.aclose()


class UnmixedClient:
    """`with UnmixedClient(base_url, api_key) as unmixed: unmixed.create_bot(...)`: the
    same methods as `AsyncUnmixedClient`, blocking, for scripts and notebooks."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._http = httpx.Client(base_url=base_url, headers=_headers(api_key), timeout=timeout)

    def create_bot(
        self,
        meeting_url: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[BotOptions],
    ) -> Bot:
        """Send a bot to `meeting_url` now, or at `join_at`. With `idempotency_key`, a retry
        with the same key and options within the hour answers the same bot, never a second."""
        response = self._http.post(
            BOTS_PATH,
            json=_create_body(meeting_url, options),
            headers=_key_header(idempotency_key),
        )
        return _answer(response, Bot)

    def update_bot(
        self, bot_id: str, *, idempotency_key: str | None = None, **changes: Unpack[BotChanges]
    ) -> Bot:
        """Change a scheduled bot until it is dispatched; `UnmixedError` `update_bot_failed`
        after that, `cannot_command_completed_bot` once it has left its call."""
        response = self._http.patch(
            _bot_path(bot_id), json=_update_body(changes), headers=_key_header(idempotency_key)
        )
        return _answer(response, Bot)

    def delete_bot(self, bot_id: str) -> None:
        """Delete a scheduled bot until it is dispatched, with all it has; `UnmixedError`
        `bot_already_dispatched` (405) after that: use `leave_call`."""
        _deleted(self._http.delete(_bot_path(bot_id)))

    def get_bot(self, bot_id: str) -> Bot:
        return _answer(self._http.get(_bot_path(bot_id)), Bot)

    def get_bot_page(self, page: int = 1, **filters: Unpack[BotFilters]) -> BotPage:
        """One page of this key's bots, newest first, 50 a page."""
        return _answer(self._http.get(BOTS_PATH, params=_list_params(page, filters)), BotPage)

    def list_bots(self, **filters: Unpack[BotFilters]) -> Iterator[Bot]:
        """Every bot that matches, page after page, each once (a bot created meanwhile
        pushes the others down the list, so a page may repeat the last one's)."""
        seen: set[str] = set()
        page = 1
        while True:
            try:
                answer = self.get_bot_page(page, **filters)
            except UnmixedError as error:
                if _past_the_end(error):
                    return
                raise
            for bot in answer.results:
                if bot.id not in seen:
                    seen.add(bot.id)
                    yield bot
            if answer.next is None:
                return
            page += 1

    def leave_call(self, bot_id: str) -> Bot:
        """Ask the bot to leave its call, or call off a scheduled one; it then ends
        `call_ended`/`bot_received_leave_call` and `done`."""
        return _answer(self._http.post(_bot_path(bot_id, "leave_call")), Bot)

    def get_transcript(self, transcript_id: str) -> list[TranscriptEntry]:
        """As `AsyncUnmixedClient.get_transcript`."""
        return _answer(self._http.get(_transcript_path(transcript_id)), TranscriptBody).root

    def wait_for_status(
        self, bot_id: str, codes: AbstractSet[str], *, timeout: float, every: float = 0.2
    ) -> Bot:
        """Poll the bot until it reaches one of `codes`; `TimeoutError` after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            bot = self.get_bot(bot_id)
            if bot.status_changes[-1].code in codes:
                return bot
            if time.monotonic() + every > deadline:
                raise TimeoutError(f"bot {bot_id} did not reach {sorted(codes)} in {timeout} s")
            time.sleep(every)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
