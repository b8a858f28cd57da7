"""Small types shared by the HTTP API and the realtime messages."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

Metadata = Annotated[
    dict[str, str],
    Field(default_factory=dict, description="Free-form string pairs, `{}` when empty."),
]


def iso_utc(moment: datetime) -> str:
    """Render a moment the way Recall does: ISO 8601, microseconds, a `Z` suffix."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


UtcDateTime = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


class WireModel(BaseModel):
    """Base for every wire model: unknown fields are refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ObjectRef(WireModel):
    """A reference to one of the bot's objects, as carried in every realtime message."""

    id: str
    metadata: Metadata
