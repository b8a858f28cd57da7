"""API keys in the `Authorization` header, both ways Recall clients send them."""

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from unmixed.api.errors import ApiProblem
from unmixed.api.state import ServiceState, service_state


def _presented_key(authorization: str | None) -> str | None:
    """`Token <key>` as Recall documents it, the bare key as its sample apps send it,
    or `Bearer <key>` as many HTTP clients do."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and rest:
        return rest.strip()
    return authorization.strip()


def authenticated_key(
    request: Request,
    state: Annotated[ServiceState, Depends(service_state)],
    authorization: Annotated[str | None, Header()] = None,
) -> int:
    """The id of the caller's API key; 401 otherwise."""
    key = _presented_key(authorization)
    if key is None:
        raise ApiProblem(
            401, "authentication_failed", "send your API key: Authorization: Token <key>"
        )
    configured = state.settings.api_key
    known = state.configured_key_id
    if configured and known is not None and hmac.compare_digest(key.encode(), configured.encode()):
        return known
    key_id = state.keys.find(key)
    if key_id is None:
        raise ApiProblem(401, "authentication_failed", "this API key is not valid")
    return key_id


ApiKeyId = Annotated[int, Depends(authenticated_key)]
