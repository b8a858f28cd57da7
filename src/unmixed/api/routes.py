"""`/api/v1/bot/...`: create a bot, read it, ask it to leave.

Every route answers with and without its trailing slash, with no redirect:
Recall's clients send both, and a redirected POST loses its body.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from unmixed.api.auth import ApiKeyId
from unmixed.api.errors import ApiProblem
from unmixed.api.state import ServiceState, service_state
from unmixed.wire.bots import Bot, BotCreate
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
