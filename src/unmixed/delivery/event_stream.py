"""Events that are not audio, to the endpoints that asked for them, one connection each.

Participant events and transcripts travel alike: every realtime endpoint that
subscribed to any of a kind's events gets one connection (a websocket, or
signed POSTs for a webhook endpoint) for the whole recording, apart from the
per-participant audio connections, and receives only the events it asked for,
in the order they happened.
"""

from collections.abc import Callable, Iterable

from unmixed.delivery.connection import Outbound, Outgoing, ReceiverConnection, drain
from unmixed.delivery.webhook_endpoint import WebhookEndpointSender
from unmixed.wire.bots import RealtimeEndpoint
from unmixed.wire.common import ObjectRef, WireModel


class EventStream:
    def __init__(
        self,
        endpoints: list[RealtimeEndpoint],
        events: Iterable[str],
        outbound: Outbound,
        *,
        label: str,
    ) -> None:
        """`events`: the kind's event names; `label` names its connections in logs."""
        kind = frozenset(events)
        self._subscribers = [
            (
                ObjectRef(id=endpoint.id or "", metadata=endpoint.metadata),
                frozenset(endpoint.events) & kind,
                _connection_to(endpoint, outbound, label),
            )
            for endpoint in endpoints
            if kind.intersection(endpoint.events)
        ]

    def wants(self, event: str) -> bool:
        """Whether any endpoint asked for `event`: work nobody receives is not done."""
        return any(event in events for _, events, _ in self._subscribers)

    def send(self, event: str, message: Callable[[ObjectRef], WireModel]) -> None:
        """Send `message(endpoint)` to every endpoint that asked for `event`."""
        for endpoint, events, connection in self._subscribers:
            if event in events:
                connection.send(message(endpoint).model_dump_json().encode())

    async def close(self, drain_seconds: float) -> int:
        """Let receivers take what is buffered, for at most `drain_seconds`, then let go;
        how many connections were still behind."""
        return await drain([connection for _, _, connection in self._subscribers], drain_seconds)


def _connection_to(endpoint: RealtimeEndpoint, outbound: Outbound, label: str) -> Outgoing:
    """A websocket for a websocket endpoint; signed POSTs for a webhook endpoint."""
    health = outbound.endpoint(endpoint)
    if endpoint.type == "webhook":
        return WebhookEndpointSender(health, outbound.secret, label=label)
    return ReceiverConnection(health, label=label)
