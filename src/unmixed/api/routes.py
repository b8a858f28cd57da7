"""`/api/v1/bot/...`: create bots, list them, read one, ask one to leave.

Every route answers with and without its trailing slash, with no redirect:
Recall's clients send both, and a redirected POST loses its body.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from unmixed.api.auth import ApiKeyId
from unmixed.api.errors import ApiProblem
from unmixed.api.state import ServiceState, service_state
from unmixed.store import BotFilters
from unmixed.wire.bots import Bot, BotCreate, BotPage, FieldError
from unmixed.wire.status import FINAL_CODES, StatusCode

router = APIRouter(prefix="/api/v1")
State = Annotated[ServiceState, Depends(service_state)]


def route(
    method: str, path: str, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `path` and `path/` for one endpoint; only the slashed one is documented."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(f"{path}/", endpoint, methods=[method], **options)
        router.add_api_route(path, endpoint, methods=[method], include_in_schema=False, **options)
        return endpoint

    return register


@route("POST", "/bot", status_code=201, response_model=Bot)
async def create_bot(request: BotCreate, key_id: ApiKeyId, state: State) -> Bot:
    meeting = request.parsed_meeting_url()
    request.check_realtime_endpoints()
    bot = await asyncio.to_thread(state.bots.create, request, meeting, key_id)
    delay = (
        0.0 if request.join_at is None else (request.join_at - datetime.now(UTC)).total_seconds()
    )
    state.dispatcher.dispatch(bot.id, delay=max(0.0, delay))
    return bot


PAGE_SIZE = 50
METADATA_FILTER = "metadata__"


@route("GET", "/bot", response_model=BotPage)
async def list_bots(
    request: Request,
    key_id: ApiKeyId,
    state: State,
    page: Annotated[int, Query(ge=1)] = 1,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    platform: Annotated[list[str], Query()] = [],  # noqa: B006
    join_at_after: str | None = None,
    join_at_before: str | None = None,
) -> BotPage:
    filters = BotFilters(
        statuses=tuple(status),
        platforms=tuple(platform),
        join_at_after=_moment("join_at_after", join_at_after),
        join_at_before=_moment("join_at_before", join_at_before),
        metadata=tuple(
            (name.removeprefix(METADATA_FILTER), value)
            for name, value in request.query_params.multi_items()
            if name.startswith(METADATA_FILTER)
        ),
    )
    offset = (page - 1) * PAGE_SIZE
    count, bots = await asyncio.to_thread(
        state.bots.page, key_id, filters, offset=offset, limit=PAGE_SIZE
    )
    if page > 1 and offset >= count:
        raise ApiProblem(404, "not_found", f"page {page} is past the last page", field="page")
    return BotPage(
        count=count,
        next=str(request.url.include_query_params(page=page + 1))
        if offset + PAGE_SIZE < count
        else None,
        previous=str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
        results=bots,
    )


def _moment(field: str, text: str | None) -> datetime | None:
    """ISO 8601 or `YYYY-MM-DD HH:MM:SS`, as Recall accepts; without a zone, UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise FieldError(field, "use ISO 8601 or YYYY-MM-DD HH:MM:SS") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@route("GET", "/bot/{bot_id}", response_model=Bot)
async def retrieve_bot(bot_id: str, key_id: ApiKeyId, state: State) -> Bot:
    return await _owned_bot(state, bot_id, key_id)


@route("POST", "/bot/{bot_id}/leave_call", response_model=Bot)
async def leave_call(bot_id: str, key_id: ApiKeyId, state: State) -> Bot:
    bot = await _owned_bot(state, bot_id, key_id)
    if bot.status_changes[-1].code in (*FINAL_CODES, StatusCode.CALL_ENDED):
        raise ApiProblem(400, "cannot_command_completed_bot", "this bot has already left its call")
    await state.dispatcher.request_leave(bot_id)
    return await _owned_bot(state, bot_id, key_id)


async def _owned_bot(state: ServiceState, bot_id: str, key_id: int) -> Bot:
    bot = await asyncio.to_thread(state.bots.get, bot_id, key_id)
    if bot is None:
        raise ApiProblem(404, "not_found", f"no bot {bot_id} for this API key")
    return bot
