"""Each account's webhook endpoints and its one signing secret.

An account is an API key's owner (`Owner`). Its secret signs every webhook to
every one of its endpoints, as Recall's one secret per workspace does: it is
made with the account's first endpoint, shown once, and replaced by `rotate`.
It is kept in the clear (signing needs it), registered with the log redaction
wherever it is read.
"""

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from unmixed.logs import register_secret
from unmixed.store.database import Database, changed
from unmixed.store.models import WebhookEndpointRow, WebhookSecretRow
from unmixed.store.outbox import owned_by
from unmixed.store.repository import Owner

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """Standard Webhooks' format: `whsec_` and the base64 of the key's random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class EndpointInfo:
    id: str
    url: str
    created_at: datetime


@dataclass(frozen=True)
class AddedEndpoint:
    endpoint: EndpointInfo
    new_secret: str | None
    """The account's secret when this call made it (its first endpoint), else None."""


class WebhookEndpoints:
    def __init__(self, database: Database) -> None:
        self._sessions = database.sessions

    def add(self, owner: Owner, url: str) -> AddedEndpoint:
        """Store an endpoint (its URL already vetted), making the account's secret if
        it has none, in one transaction: no endpoint is ever without a secret.

        Two first endpoints of an account added at once both find no secret and both
        make one; the unique index keeps one and fails the other transaction, which
        then tries again and finds the secret the first made."""
        try:
            return self._add(owner, url)
        except IntegrityError:
            return self._add(owner, url)

    def _add(self, owner: Owner, url: str) -> AddedEndpoint:
        row = WebhookEndpointRow(
            id=str(uuid.uuid4()), api_key_id=owner.key_id, url=url, created_at=datetime.now(UTC)
        )
        with self._sessions.begin() as session:
            made = None if _secret(session, owner) else _store_secret(session, owner)
            session.add(row)
        return AddedEndpoint(EndpointInfo(row.id, row.url, row.created_at), made)

    def all(self, owner: Owner) -> list[EndpointInfo]:
        with self._sessions() as session:
            rows = session.scalars(
                select(WebhookEndpointRow)
                .where(owned_by(WebhookEndpointRow.api_key_id, owner.key_id))
                .order_by(WebhookEndpointRow.created_at, WebhookEndpointRow.id)
            )
            return [EndpointInfo(row.id, row.url, row.created_at) for row in rows]

    def remove(self, owner: Owner, endpoint_id: str) -> bool:
        """Delete the account's endpoint and its undelivered events; False if it has none
        by that id."""
        with self._sessions.begin() as session:
            return changed(
                session,
                delete(WebhookEndpointRow).where(
                    WebhookEndpointRow.id == endpoint_id,
                    owned_by(WebhookEndpointRow.api_key_id, owner.key_id),
                ),
            )

    def secret(self, owner: Owner) -> str | None:
        """The account's verification secret, if it has one yet."""
        with self._sessions() as session:
            return _secret(session, owner)

    def rotate_secret(self, owner: Owner) -> str:
        """Replace the account's secret; webhooks sent from now on are signed with the new one.

        The secret's row is updated in place: rotations at once then queue on its row
        lock and the last one's secret stays, where a delete and an insert could both
        miss the row the other inserted and collide on the unique index."""
        try:
            return self._rotate_secret(owner)
        except IntegrityError:  # the account's first secret was made meanwhile: replace it
            return self._rotate_secret(owner)

    def _rotate_secret(self, owner: Owner) -> str:
        secret = new_secret()
        register_secret(secret)
        with self._sessions.begin() as session:
            replaced = changed(
                session,
                update(WebhookSecretRow)
                .where(owned_by(WebhookSecretRow.api_key_id, owner.key_id))
                .values(secret=secret, created_at=datetime.now(UTC)),
            )
            if not replaced:
                _store_secret(session, owner, secret)
        return secret


def _secret(session: Session, owner: Owner) -> str | None:
    secret = session.scalar(
        select(WebhookSecretRow.secret).where(owned_by(WebhookSecretRow.api_key_id, owner.key_id))
    )
    register_secret(secret)
    return secret


def _store_secret(session: Session, owner: Owner, secret: str | None = None) -> str:
    secret = secret or new_secret()
    register_secret(secret)
    session.add(
        WebhookSecretRow(api_key_id=owner.key_id, secret=secret, created_at=datetime.now(UTC))
    )
    return secret
