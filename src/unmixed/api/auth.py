"""API keys in the `Authorization` header, every way Recall clients send them.

Authentication runs in `RequestGuard`, before routing and before the body is
read; routes learn whose request it is from `Caller`.
"""

import asyncio
import hmac
from typing import Annotated

from fastapi import Depends, Request

from unmixed.settings import Settings
from unmixed.store import ENVIRONMENT_KEY, ApiKeys, Owner

MAX_KEY_LENGTH = 256


def presented_key(authorization: str | None) -> str | None:
    """`Token <key>` as Recall documents it, the bare key as its sample apps send it,
    or `Bearer <key>` as many HTTP clients do."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and rest:
        return rest.strip()
    return authorization.strip()


async def authenticate(
    settings: Settings, keys: ApiKeys, authorization: str | None
) -> Owner | None:
    """Whose key this is, or None. The environment's key is compared in constant
    time and never looked up in (or written to) the store."""
    key = presented_key(authorization)
    if key is None or len(key) > MAX_KEY_LENGTH:
        return None
    configured = settings.api_key
    if configured is not None and hmac.compare_digest(
        key.encode(), configured.get_secret_value().encode()
    ):
        return ENVIRONMENT_KEY
    key_id = await asyncio.to_thread(keys.find, key)
    return None if key_id is None else Owner(key_id)


def caller(request: Request) -> Owner:
    """The owner `RequestGuard` authenticated for this request."""
    owner: Owner = request.state.owner
    return owner


Caller = Annotated[Owner, Depends(caller)]
