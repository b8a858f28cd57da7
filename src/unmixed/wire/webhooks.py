"""The webhook endpoint API's request and response bodies."""

from pydantic import Field

from unmixed.egress import EgressPolicy, EgressRefused
from unmixed.wire.bots import FieldError, Url
from unmixed.wire.common import UtcDateTime, WireModel

WEBHOOK_SCHEMES = ("http", "https")


class WebhookEndpointCreate(WireModel):
    url: Url

    def check_url(self, policy: EgressPolicy) -> None:
        """Refuse now what delivery could never send to, naming the field."""
        try:
            parts = policy.check_url(self.url)
        except EgressRefused as error:
            raise FieldError("url", str(error)) from error
        if parts.scheme.lower() not in WEBHOOK_SCHEMES:
            raise FieldError("url", "webhooks are sent over HTTP: use http:// or https://")


class WebhookEndpoint(WireModel):
    id: str
    url: str
    created_at: UtcDateTime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str | None = Field(
        description=(
            "The account's signing secret (`whsec_...`), given only by the request that "
            "made it (the account's first endpoint); null otherwise."
        )
    )
