"""The SDK app's credentials, and the JWT the SDK authenticates with."""

import time
from dataclasses import dataclass

import jwt

TOKEN_LIFETIME_SECONDS = 2 * 3600
"""The SDK refuses (locally, as `SDKERR_INTERNAL_ERROR`) a token whose `tokenExp` is
less than about 30 minutes ahead; two hours leaves room for a slow join."""


@dataclass(frozen=True)
class ZoomCredentials:
    """A Zoom Meeting SDK app's client id and secret (the secret never leaves this process)."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"ZoomCredentials(client_id={self.client_id!r}, client_secret='[redacted]')"


def sdk_jwt(credentials: ZoomCredentials, now: float | None = None) -> str:
    """The HS256 token `SDKAuth` takes: `appKey` is the client id, signed with the secret."""
    issued = int(time.time() if now is None else now)
    expires = issued + TOKEN_LIFETIME_SECONDS
    claims = {"appKey": credentials.client_id, "iat": issued, "exp": expires, "tokenExp": expires}
    return jwt.encode(claims, credentials.client_secret, algorithm="HS256")
