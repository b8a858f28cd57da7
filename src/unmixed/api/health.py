"""`/healthz` for load balancers and orchestrators, `/metrics` for Prometheus.

`/healthz` says only whether this process can serve (it reaches the store, and
the launcher can count its slots: with Celery, that Redis answers), to anyone.
`/metrics` describes the whole fleet, so it asks for the operator's key
(`UNMIXED_API_KEY`; Prometheus sends it with `authorization: {type: Token}`),
never an account's.
"""

import asyncio
import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from unmixed.api.auth import presented_key
from unmixed.api.errors import ApiProblem
from unmixed.api.state import ServiceState
from unmixed.bots.capacity import AD_HOC
from unmixed.bots.launchers import CapacityUnknown
from unmixed.metrics import CONTENT_TYPE, render, service_metrics
from unmixed.store import Database
from unmixed.store.census import take_census

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state: ServiceState = request.app.state.service
    try:
        await asyncio.to_thread(_ping, state.database)
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "problem": "store"}, status_code=503)
    try:
        await state.launcher.capacity()
    except CapacityUnknown:
        return JSONResponse({"status": "unavailable", "problem": "launcher"}, status_code=503)
    return JSONResponse({"status": "ok"})


def _ping(database: Database) -> None:
    with database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state: ServiceState = request.app.state.service
    _check_operator(state, request.headers.get("authorization"))
    census = await asyncio.to_thread(take_census, state.database)
    capacity = await state.launcher.capacity()
    held = await asyncio.to_thread(state.leases.slots_held, AD_HOC)
    return Response(render(service_metrics(census, capacity, held)), media_type=CONTENT_TYPE)


def _check_operator(state: ServiceState, authorization: str | None) -> None:
    configured = state.settings.api_key
    if configured is None:
        raise ApiProblem(404, "not_found", "metrics need UNMIXED_API_KEY, the operator's key")
    key = presented_key(authorization) or ""
    if not hmac.compare_digest(key.encode(), configured.get_secret_value().encode()):
        raise ApiProblem(401, "authentication_failed", "metrics need the operator's key")
