"""`/api/v1/bot/...`: create bots, list them, read one, change or delete one not yet
dispatched, ask one to leave.

Every route answers with and without its trailing slash, with no redirect:
Recall's clients send both, and a redirected POST loses its body.
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import StringConstraints

from unmixed.api.auth import Caller
from unmixed.api.errors import ApiProblem
from unmixed.api.routing import slashed_routes
from unmixed.api.state import ServiceState, service_state
from unmixed.bots.capacity import AD_HOC, RETRY_AFTER_SECONDS
from unmixed.bots.launchers import CapacityUnknown
from unmixed.store import BotFilters, Owner
from unmixed.store.leases import LeaveAsked
from unmixed.store.repository import BotNotReady, NoFreeSlot, SlotLimit, slots_needed
from unmixed.transcription.models import ModelUnavailable, local_model
from unmixed.wire.bots import Bot, BotCreate, BotPage, BotUpdate, FieldError
from unmixed.wire.common import METADATA_KEY_MAX_LENGTH, storable_text
from unmixed.wire.meeting_url import MeetingUrl, Platform
from unmixed.wire.realtime import TranscriptEntry
from unmixed.wire.status import FINAL_CODES, StatusCode

router = APIRouter(prefix="/api/v1")
State = Annotated[ServiceState, Depends(service_state)]

PAGE_SIZE = 50
MAX_PAGE = 1_000_000
METADATA_FILTER = "metadata__"
LIST_PARAMETERS = ("page", "status", "platform", "join_at_after", "join_at_before")
MAX_FILTER_VALUES = 20
StatusFilter = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,64}$")]],
    Query(max_length=MAX_FILTER_VALUES, description="Status codes, e.g. `in_call_recording`."),
]
PlatformFilter = Annotated[list[Platform], Query(max_length=MAX_FILTER_VALUES)]


route = slashed_routes(router)


def public_base(request: Request, state: State) -> str:
    """The API's own public address, for the links in what it answers."""
    settings = state.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if settings.trust_proxy_headers:
        scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0]
        host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
        return f"{scheme.strip()}://{host.split(',')[0].strip()}"
    host, port = request.scope["server"] or ("127.0.0.1", 80)
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{port}"


Base = Annotated[str, Depends(public_base)]


def _linked(bot: Bot, base: str) -> Bot:
    """`bot` with its download links made absolute, as Recall's are: the store knows
    paths, only the API knows where it is reached."""
    for recording in bot.recordings:
        transcript = recording.media_shortcuts.transcript
        if transcript is not None and transcript.data.download_url.startswith("/"):
            transcript.data.download_url = base + transcript.data.download_url
    return bot


@route("POST", "/bot", status_code=201, response_model=Bot, errors=(400, 503, 507))
async def create_bot(request: BotCreate, owner: Caller, state: State, base: Base) -> Bot:
    meeting = _checked_meeting(request, state)
    slots = await _slot_limit(state) if _ad_hoc(request.join_at) else None
    try:
        bot = await asyncio.to_thread(state.bots.create, request, meeting, owner, slots=slots)
    except NoFreeSlot as full:
        raise _no_free_slot(full) from full
    state.scheduler.wake()
    return _linked(bot, base)


def _checked_meeting(request: BotCreate, state: ServiceState) -> MeetingUrl:
    """The meeting of a bot about to be stored, once what no JSON schema can say is checked."""
    meeting = request.parsed_meeting_url()
    if meeting.platform.is_testbed and not state.settings.testbed_enabled:
        raise FieldError(
            "meeting_url", "testbed meetings are switched off here (UNMIXED_TESTBED_ENABLED)"
        )
    request.check_realtime_endpoints(state.egress)
    _check_transcript_model(request)
    return meeting


def _check_transcript_model(request: BotCreate) -> None:
    """A transcript asked of a model this machine does not have is refused now, not
    discovered by the bot in the middle of the meeting."""
    transcript = request.recording_config.transcript
    if transcript is None:
        return
    try:
        local_model(transcript.provider.model).check_installed()
    except ModelUnavailable as error:
        raise FieldError("recording_config.transcript.provider", str(error)) from error


def _ad_hoc(join_at: datetime | None) -> bool:
    """Due to join sooner than `AD_HOC`: such a bot takes a slot when it is made."""
    return join_at is None or join_at - datetime.now(UTC) < AD_HOC


async def _slot_limit(state: ServiceState) -> SlotLimit | None:
    """The bot slots there are in all (None: no limit known, as on Kubernetes); 503 if
    the count is out of reach."""
    try:
        capacity = await state.launcher.capacity()
    except CapacityUnknown as error:
        raise ApiProblem(
            503,
            "capacity_unknown",
            "the bot slots cannot be counted right now; retry later",
            retry_after=RETRY_AFTER_SECONDS,
        ) from error
    return None if capacity is None else SlotLimit(capacity, AD_HOC)


def _no_free_slot(full: NoFreeSlot) -> ApiProblem:
    """507 with `Retry-After` when every bot slot is held (by running bots, queued ones
    and ad hoc ones about to start): nothing is stored, nothing started."""
    return ApiProblem(
        507,
        "no_free_bot_slot",
        f"all {full.capacity} bot slots are busy; retry later, or schedule the bot with join_at",
        retry_after=RETRY_AFTER_SECONDS,
    )


@route("GET", "/bot", response_model=BotPage, errors=(400, 404))
async def list_bots(
    request: Request,
    owner: Caller,
    state: State,
    base: Base,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    status: StatusFilter = [],  # noqa: B006 (FastAPI copies defaults)
    platform: PlatformFilter = [],  # noqa: B006
    join_at_after: str | None = None,
    join_at_before: str | None = None,
) -> BotPage:
    filters = BotFilters(
        statuses=tuple(status),
        platforms=tuple(platform),
        join_at_after=_moment("join_at_after", join_at_after),
        join_at_before=_moment("join_at_before", join_at_before),
        metadata=_metadata_filters(request),
    )
    offset = (page - 1) * PAGE_SIZE
    count, bots = await asyncio.to_thread(
        state.bots.page, owner, filters, offset=offset, limit=PAGE_SIZE
    )
    if page > 1 and offset >= count:
        raise ApiProblem(404, "not_found", f"page {page} is past the last page", field="page")
    return BotPage(
        count=count,
        next=_page_link(request, state, page + 1) if offset + PAGE_SIZE < count else None,
        previous=_page_link(request, state, page - 1) if page > 1 else None,
        results=[_linked(bot, base) for bot in bots],
    )


def _metadata_filters(request: Request) -> tuple[tuple[str, str], ...]:
    """The `metadata__KEY=value` filters; any other parameter the list does not know
    is refused, so a misspelt filter never silently lists everything."""
    filters = []
    for name, value in request.query_params.multi_items():
        if not name.startswith(METADATA_FILTER):
            if name not in LIST_PARAMETERS:
                known = ", ".join([*LIST_PARAMETERS, METADATA_FILTER + "KEY"])
                raise FieldError(name or "query", f"unknown query parameter; known: {known}")
            continue
        key = name.removeprefix(METADATA_FILTER)
        try:
            if not 0 < len(key) <= METADATA_KEY_MAX_LENGTH:
                raise ValueError(f"names a key of 1 to {METADATA_KEY_MAX_LENGTH} characters")
            storable_text(key)
            storable_text(value)
        except ValueError as error:
            raise FieldError(METADATA_FILTER + "KEY", str(error)) from error
        filters.append((key, value))
    if len(filters) > MAX_FILTER_VALUES:
        raise FieldError(METADATA_FILTER + "KEY", f"at most {MAX_FILTER_VALUES} metadata filters")
    return tuple(filters)


def _page_link(request: Request, state: ServiceState, page: int) -> str:
    """A page link on the server's own public address, never one a client's
    headers made up (unless the operator trusts the proxy that sets them)."""
    query = [(name, value) for name, value in request.query_params.multi_items() if name != "page"]
    return f"{public_base(request, state)}{request.url.path}?{urlencode([*query, ('page', page)])}"


def _moment(field: str, text: str | None) -> datetime | None:
    """ISO 8601 or `YYYY-MM-DD HH:MM:SS`, as Recall accepts; without a zone, UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as error:
        raise FieldError(field, "use ISO 8601 or YYYY-MM-DD HH:MM:SS") from error


@route("GET", "/bot/{bot_id}", response_model=Bot, errors=(404,))
async def retrieve_bot(bot_id: str, owner: Caller, state: State, base: Base) -> Bot:
    return _linked(await _owned_bot(state, bot_id, owner), base)


@route("PATCH", "/bot/{bot_id}", response_model=Bot, errors=(400, 404, 503, 507))
async def update_bot(
    bot_id: str, changes: BotUpdate, owner: Caller, state: State, base: Base
) -> Bot:
    """Recall's Update Scheduled Bot: only a bot not yet dispatched can change. A
    `join_at` moved within the ad hoc window takes bot slots, as a new bot would, and so
    does a transcript asked of a bot already there."""
    _refuse_completed(await _owned_bot(state, bot_id, owner))
    before = await asyncio.to_thread(state.bots.request, bot_id)
    request = changes.applied_to(before)
    meeting = _checked_meeting(request, state)
    newly_ad_hoc = _ad_hoc(request.join_at) and not _ad_hoc(before.join_at)
    more_slots = _ad_hoc(request.join_at) and slots_needed(request) > slots_needed(before)
    slots = await _slot_limit(state) if newly_ad_hoc or more_slots else None
    try:
        bot = await asyncio.to_thread(state.bots.update, bot_id, request, meeting, slots=slots)
    except BotNotReady as error:
        raise ApiProblem(
            400, "update_bot_failed", "Only non-dispatched bots can be updated"
        ) from error
    except NoFreeSlot as full:
        raise _no_free_slot(full) from full
    state.scheduler.wake()
    return _linked(bot, base)


@route(
    "DELETE",
    "/bot/{bot_id}",
    status_code=204,
    response_class=Response,
    errors=(400, 404),
)
async def delete_bot(bot_id: str, owner: Caller, state: State) -> Response:
    """Recall's Delete Scheduled Bot: only a bot not yet dispatched can be deleted;
    one that has been is asked to leave with `leave_call`."""
    _refuse_completed(await _owned_bot(state, bot_id, owner))
    try:
        await asyncio.to_thread(state.bots.delete, bot_id)
    except BotNotReady as error:
        raise ApiProblem(
            405,
            "bot_already_dispatched",
            "Method is not allowed for this bot: it has already been dispatched "
            "(only a scheduled bot not yet dispatched can be deleted; use leave_call)",
        ) from error
    return Response(status_code=204)


@route("POST", "/bot/{bot_id}/leave_call", response_model=Bot, errors=(400, 404))
async def leave_call(bot_id: str, owner: Caller, state: State, base: Base) -> Bot:
    """A bot not yet dispatched is called off here; any other is told through the
    store (and Redis, where configured), wherever it runs."""
    _refuse_completed(await _owned_bot(state, bot_id, owner))
    if await asyncio.to_thread(state.leases.request_leave, bot_id) is LeaveAsked.SENT:
        await state.notices.announce(bot_id)
    return _linked(await _owned_bot(state, bot_id, owner), base)


@route(
    "GET",
    "/transcript/{transcript_id}/download",
    response_model=list[TranscriptEntry],
    errors=(404,),
)
async def download_transcript(transcript_id: str, owner: Caller, state: State) -> Response:
    """A recording's transcript so far (its `media_shortcuts.transcript.data.download_url`):
    each final utterance, in the order it was said. Rendered off the event loop: a long
    meeting's transcript is megabytes."""
    body = await asyncio.to_thread(state.transcripts.download, transcript_id, owner)
    if body is None:
        raise ApiProblem(404, "not_found", "no such transcript for this API key")
    return Response(body, media_type="application/json")


def _refuse_completed(bot: Bot) -> None:
    """A bot that has left its call takes no more commands, as at Recall."""
    if bot.status_changes[-1].code in (*FINAL_CODES, StatusCode.CALL_ENDED):
        raise ApiProblem(400, "cannot_command_completed_bot", "this bot has already left its call")


async def _owned_bot(state: ServiceState, bot_id: str, owner: Owner) -> Bot:
    bot = await asyncio.to_thread(state.bots.get, bot_id, owner)
    if bot is None:
        raise ApiProblem(404, "not_found", "no such bot for this API key")
    return bot
