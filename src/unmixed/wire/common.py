"""Small types shared by the HTTP API and the realtime messages."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

METADATA_MAX_KEYS = 32
METADATA_KEY_MAX_LENGTH = 64
METADATA_VALUE_MAX_LENGTH = 512


def storable_text(value: str) -> str:
    """Refuse what a database or a JSON encoder would choke on later: lone UTF-16
    surrogates (JSON can spell them, UTF-8 cannot hold them) and NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from error
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


StorableText = AfterValidator(storable_text)
"""Put on every string a client sends, after its length limits."""

MetadataKey = Annotated[str, Field(min_length=1, max_length=METADATA_KEY_MAX_LENGTH), StorableText]
MetadataValue = Annotated[str, Field(max_length=METADATA_VALUE_MAX_LENGTH), StorableText]
MetadataPairs = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=METADATA_MAX_KEYS)]
Metadata = Annotated[
    MetadataPairs,
    Field(default_factory=dict, description="Free-form string pairs, `{}` when empty."),
]


def iso_utc(moment: datetime) -> str:
    """Render a moment the way Recall does: ISO 8601, microseconds, a `Z` suffix."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


UtcDateTime = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


class WireModel(BaseModel):
    """Base for every wire model: unknown fields are refused, never silently dropped,
    and so are infinities and NaN, which JSON cannot carry back out."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ObjectRef(WireModel):
    """A reference to one of the bot's objects, as carried in every realtime message."""

    id: str
    metadata: Metadata
