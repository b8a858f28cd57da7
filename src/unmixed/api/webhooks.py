"""`/api/v1/webhook_endpoint/...`: where an account's status webhooks go.

What Recall's dashboard does, as routes: add an endpoint (the account's first
one also makes, and shows once, the signing secret), list them, remove one.
Each key sees and changes its own account's endpoints only.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from unmixed.api.auth import Caller
from unmixed.api.errors import ApiProblem
from unmixed.api.routing import slashed_routes
from unmixed.api.state import ServiceState, service_state
from unmixed.store.webhooks import EndpointInfo, WebhookEndpoints
from unmixed.wire.webhooks import WebhookEndpoint, WebhookEndpointCreate, WebhookEndpointCreated

router = APIRouter(prefix="/api/v1")
route = slashed_routes(router)
State = Annotated[ServiceState, Depends(service_state)]


def _endpoints(state: ServiceState) -> WebhookEndpoints:
    return WebhookEndpoints(state.database)


def _wire(endpoint: EndpointInfo) -> WebhookEndpoint:
    return WebhookEndpoint(id=endpoint.id, url=endpoint.url, created_at=endpoint.created_at)


@route(
    "POST",
    "/webhook_endpoint",
    status_code=201,
    response_model=WebhookEndpointCreated,
    errors=(400,),
)
async def create_webhook_endpoint(
    request: WebhookEndpointCreate, owner: Caller, state: State
) -> WebhookEndpointCreated:
    request.check_url(state.egress)
    added = await asyncio.to_thread(_endpoints(state).add, owner, request.url)
    endpoint = added.endpoint
    return WebhookEndpointCreated(
        id=endpoint.id, url=endpoint.url, created_at=endpoint.created_at, secret=added.new_secret
    )


@route("GET", "/webhook_endpoint", response_model=list[WebhookEndpoint])
async def list_webhook_endpoints(owner: Caller, state: State) -> list[WebhookEndpoint]:
    return [_wire(endpoint) for endpoint in await asyncio.to_thread(_endpoints(state).all, owner)]


@route("DELETE", "/webhook_endpoint/{endpoint_id}", status_code=204, errors=(404,))
async def delete_webhook_endpoint(endpoint_id: str, owner: Caller, state: State) -> Response:
    if not await asyncio.to_thread(_endpoints(state).remove, owner, endpoint_id):
        raise ApiProblem(404, "not_found", "no such webhook endpoint for this API key")
    return Response(status_code=204)
